"""The industry fields of a visit report, validated (a visit stores them as JSON).

Invariants:
- a report holds only the fields of the visit's industry (agriculture, medical, electronics);
  other industries have none; unknown keys are refused, not dropped;
- every list is bounded and every text trimmed and bounded, so a report stays small.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from tandem.core.errors import InvalidInput

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sample(_Strict):
    product: Text
    lot: Text
    quantity: int = Field(ge=1, le=100_000)


class DesignIn(_Strict):
    product: Text
    project: Text
    annual_volume: int = Field(default=0, ge=0, le=10**9)


class DistributorStock(_Strict):
    distributor: Text
    product: Text
    quantity: int = Field(ge=0, le=10**9)


class AgricultureReport(_Strict):
    crops: list[Text] = Field(default_factory=list, max_length=20)
    area_ha: Decimal | None = Field(default=None, ge=0, le=10**7, decimal_places=2)
    growth_stage: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    products_trialled: list[Text] = Field(default_factory=list, max_length=20)


class MedicalReport(_Strict):
    department: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    specialists: list[Text] = Field(default_factory=list, max_length=30)
    samples: list[Sample] = Field(default_factory=list, max_length=50)


class ElectronicsReport(_Strict):
    design_ins: list[DesignIn] = Field(default_factory=list, max_length=30)
    distributor_stock: list[DistributorStock] = Field(default_factory=list, max_length=50)


class EmptyReport(_Strict):
    pass


REPORTS: dict[str, type[_Strict]] = {
    "agriculture": AgricultureReport,
    "medical": MedicalReport,
    "electronics": ElectronicsReport,
}


def clean_report(industry: str, data: dict[str, Any] | None) -> dict[str, Any]:
    """The report as stored (JSON-ready), or InvalidInput naming each bad field."""
    schema = REPORTS.get(industry, EmptyReport)
    try:
        report = schema.model_validate(data or {})
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "__all__"
            errors.setdefault(f"report.{where}", []).append(error["msg"])
        raise InvalidInput(errors) from None
    return report.model_dump(mode="json", exclude_defaults=False)
