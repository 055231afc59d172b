"""Validation of the flexible parts of the record: industry attributes and custom attributes.

Industry attributes follow a schema per industry (unknown keys are refused, so typos surface);
custom attribute values follow the definitions an admin made.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tandem.core.errors import InvalidInput
from tandem.crm.models import AttributeType, CustomAttribute, Industry


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AgricultureAttributes(_Strict):
    farm_area_ha: float | None = Field(default=None, ge=0, le=10_000_000)
    crops: list[str] = Field(default_factory=list, max_length=50)
    livestock: list[str] = Field(default_factory=list, max_length=50)


class MedicalAttributes(_Strict):
    clinic_type: Literal["hospital", "clinic", "laboratory", "pharmacy", "practice"] | None = None
    specialties: list[str] = Field(default_factory=list, max_length=50)
    beds: int | None = Field(default=None, ge=0, le=100_000)


class ElectronicsAttributes(_Strict):
    business_type: Literal["oem", "distributor", "integrator", "retailer"] | None = None
    product_lines: list[str] = Field(default_factory=list, max_length=100)


class OtherAttributes(_Strict):
    pass


INDUSTRY_SCHEMAS: dict[str, type[_Strict]] = {
    Industry.AGRICULTURE: AgricultureAttributes,
    Industry.MEDICAL: MedicalAttributes,
    Industry.ELECTRONICS: ElectronicsAttributes,
    Industry.OTHER: OtherAttributes,
}


def clean_industry_attributes(industry: str, attributes: Any) -> dict[str, Any]:
    schema = INDUSTRY_SCHEMAS.get(industry)
    if schema is None:
        raise InvalidInput({"industry": [f"unknown industry {industry!r}"]})
    if not isinstance(attributes, dict):
        raise InvalidInput({"industry_attributes": ["must be an object"]})
    try:
        return schema.model_validate(attributes).model_dump(exclude_defaults=True)
    except ValidationError as exc:
        messages = [
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise InvalidInput({"industry_attributes": messages}) from exc


def _clean_value(attr: CustomAttribute, value: Any) -> Any:
    if attr.type == AttributeType.TEXT:
        if not isinstance(value, str) or len(value) > 1000:
            raise ValueError("must be text of at most 1000 characters")
        return value
    if attr.type == AttributeType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                return float(str(value).replace(",", "."))
            except ValueError:
                raise ValueError("must be a number") from None
        return value
    if attr.type == AttributeType.DATE:
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError("must be a date YYYY-MM-DD") from None
    if attr.type == AttributeType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if str(value).lower() in {"true", "yes", "1"}:
            return True
        if str(value).lower() in {"false", "no", "0"}:
            return False
        raise ValueError("must be yes or no")
    if attr.type == AttributeType.CHOICE:
        if value not in attr.choices:
            raise ValueError(f"must be one of {', '.join(map(str, attr.choices))}")
        return value
    raise ValueError("unknown attribute type")


def clean_custom(target: str, values: Any, *, partial: bool = False) -> dict[str, Any]:
    """Values for the admin-defined attributes of `target`; unknown keys are refused."""
    if not isinstance(values, dict):
        raise InvalidInput({"custom": ["must be an object"]})
    definitions = {a.key: a for a in CustomAttribute.objects.filter(target=target)}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        attr = definitions.get(key)
        if attr is None:
            errors[f"custom.{key}"] = ["is not a defined attribute"]
            continue
        if value is None or value == "":
            continue
        try:
            cleaned[key] = _clean_value(attr, value)
        except ValueError as exc:
            errors[f"custom.{key}"] = [str(exc)]
    if not partial:
        for key, attr in definitions.items():
            if attr.required and key not in cleaned:
                errors[f"custom.{key}"] = ["is required"]
    if errors:
        raise InvalidInput(errors)
    return cleaned


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}\.[^@\s.]{2,63}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def clean_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError("is not a valid email address")
    return email


def clean_domain(value: str) -> str:
    domain = value.strip().lower().removeprefix("http://").removeprefix("https://")
    domain = domain.removeprefix("www.").rstrip("/")
    if not _DOMAIN.match(domain):
        raise ValueError(f"{value!r} is not a valid domain")
    return domain
