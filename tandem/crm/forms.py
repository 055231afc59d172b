"""Forms of the customer-record pages: they check the shape of input (types, sizes, encoding)
and hand plain values to `tandem.crm.services`, whose InvalidInput comes back as field errors."""

from __future__ import annotations

from functools import cache
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.utils import flatatt
from django.urls import reverse_lazy
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from tandem.core.access import scoped
from tandem.core.models import User
from tandem.core.templatetags.tandem import person_name
from tandem.crm.models import (
    Account,
    AttributeTarget,
    AttributeType,
    ConsentState,
    Contact,
    CustomAttribute,
    Industry,
    LifecycleStage,
)

ACCOUNT_SELECT_LIMIT = 500


def no_mangled_text(value: Any) -> None:
    """Refuse text that arrived in a broken encoding (decoded with replacement characters)."""
    if isinstance(value, str) and "\ufffd" in value:
        raise ValidationError(_("This text is not valid UTF-8."), code="encoding")


class TextField(forms.CharField):
    default_validators = [no_mangled_text]


def split_list(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]


def _owner_queryset() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return person_name(obj.first_name, obj.last_name, obj.username)


class FilterSelect(forms.Select):
    """A list filter's <select>, its options joined with `format_html_join`.

    Django's own select template includes a template per option (and one more for its
    attributes): with ~50 owners that made the filter form the largest cost of a list page.
    Here the options are flat (groups are not shown as <optgroup>) and carry no attributes but
    `selected`, which marks the first option whose value is the field's value. A filter is
    never required, so the choices are not read to decide on a `required` attribute either.
    Labels are localised and escaped as a template's `{{ label }}` would be.
    """

    def use_required_attribute(self, initial: Any) -> bool:
        return False

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        wanted = self.format_value(value)
        found = False
        options = []
        for option_value, option_label in self.choices:
            group = option_label if isinstance(option_label, (list, tuple)) else None
            for sub_value, sub_label in group or [(option_value, option_label)]:
                sub_value = "" if sub_value is None else str(sub_value)
                selected = not found and sub_value in wanted
                found |= selected
                options.append((sub_value, SELECTED if selected else "", localize(sub_label)))
        return format_html(
            '<select name="{}"{}>{}\n</select>',
            name,
            flatatt(self.build_attrs(self.attrs, attrs)),
            format_html_join("", '\n  <option value="{}"{}>{}</option>', options),
        )


SELECTED = mark_safe(" selected")


def _owner_filter_choices() -> list[tuple[Any, Any]]:
    """The choice "Any owner", then every active user by name (read as rows, not objects)."""
    rows = _owner_queryset().values_list("pk", "first_name", "last_name", "username")
    return [("", _("Any owner")), *((pk, person_name(*names)) for pk, *names in rows)]


class ListFilterForm(forms.Form):
    """Search, filters and sort of a list page; invalid values are ignored, not fatal."""

    q = TextField(label=_("Search"), required=False, max_length=200)
    owner = forms.TypedChoiceField(
        label=_("Owner"), required=False, coerce=int, empty_value=None, widget=FilterSelect
    )
    lifecycle_stage = forms.ChoiceField(
        label=_("Lifecycle stage"),
        required=False,
        choices=[("", _("Any stage")), *LifecycleStage.choices],
        widget=FilterSelect,
    )
    industry = forms.ChoiceField(
        label=_("Industry"),
        required=False,
        choices=[("", _("Any industry")), *Industry.choices],
        widget=FilterSelect,
    )
    consent = forms.ChoiceField(
        label=_("Consent"),
        required=False,
        choices=[("", _("Any consent")), *ConsentState.choices],
        widget=FilterSelect,
    )
    tag = TextField(label=_("Tag"), required=False, max_length=60)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[("name", _("Name")), ("created", _("Newest first"))],
        widget=FilterSelect,
    )

    def __init__(self, *args: Any, for_accounts: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read once, when first needed (validating an owner, rendering the select): the htmx
        # results partial, which renders no form, does not read them at all.
        self.fields["owner"].choices = cache(_owner_filter_choices)  # type: ignore[attr-defined]
        if for_accounts:
            del self.fields["lifecycle_stage"]
            del self.fields["consent"]

    def value(self, name: str) -> Any:
        if not self.is_bound:
            return None
        self.is_valid()
        return self.cleaned_data.get(name) if name not in self.errors else None


def _custom_field(attr: CustomAttribute) -> forms.Field:
    common: dict[str, Any] = {"label": attr.label, "required": attr.required}
    if attr.type == AttributeType.NUMBER:
        return forms.FloatField(localize=True, **common)
    if attr.type == AttributeType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if attr.type == AttributeType.BOOLEAN:
        return forms.ChoiceField(choices=[("", "—"), ("yes", _("Yes")), ("no", _("No"))], **common)
    if attr.type == AttributeType.CHOICE:
        return forms.ChoiceField(
            choices=[("", "—")] + [(str(c), str(c)) for c in attr.choices], **common
        )
    return TextField(max_length=1000, **common)


def _custom_initial(attr: CustomAttribute, value: Any) -> Any:
    if attr.type == AttributeType.BOOLEAN and isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _custom_value(attr: CustomAttribute, value: Any) -> Any:
    if value is None or value == "":
        return None
    if attr.type == AttributeType.BOOLEAN:
        return value == "yes"
    if attr.type == AttributeType.DATE:
        return value.isoformat()
    return value


class RecordForm(forms.Form):
    """Shared by contact and account forms: owner, tags and admin-defined custom attributes."""

    target: str = ""

    def __init__(self, *args: Any, user: User, instance: Any = None, **kwargs: Any) -> None:
        self.user = user
        self.instance = instance
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _owner_queryset()  # type: ignore[attr-defined]
        self.custom_attributes = list(CustomAttribute.objects.filter(target=self.target))
        for attr in self.custom_attributes:
            name = f"custom_{attr.key}"
            self.fields[name] = _custom_field(attr)
            if instance is not None:
                self.initial[name] = _custom_initial(attr, (instance.custom or {}).get(attr.key))

    def custom_fields(self) -> list[forms.BoundField]:
        return [self[f"custom_{a.key}"] for a in self.custom_attributes]

    def custom_data(self) -> dict[str, Any]:
        return {
            a.key: _custom_value(a, self.cleaned_data.get(f"custom_{a.key}"))
            for a in self.custom_attributes
        }


class ContactForm(RecordForm):
    target = AttributeTarget.CONTACT

    first_name = TextField(label=_("First name"), max_length=100, required=False)
    last_name = TextField(label=_("Last name"), max_length=100, required=False)
    email = TextField(label=_("Email"), max_length=254, required=False)
    other_emails = TextField(
        label=_("Other email addresses"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line"),
    )
    phone = TextField(label=_("Phone"), max_length=40, required=False)
    title = TextField(label=_("Job title"), max_length=150, required=False)
    account = forms.ModelChoiceField(
        label=_("Account"), required=False, queryset=Account.objects.none()
    )
    owner = OwnerChoiceField(label=_("Owner"), required=False, queryset=User.objects.none())
    # Only a new contact's form has the stage it starts in; a later change is a lifecycle move
    # (the leads app's page). Consent is read from the consent ledger, never typed in.
    lifecycle_stage = forms.ChoiceField(
        label=_("Lifecycle stage"), choices=LifecycleStage.choices, initial=LifecycleStage.LEAD
    )
    tags = TextField(
        label=_("Tags"), required=False, max_length=600, help_text=_("Separated by commas")
    )

    def __init__(
        self, *args: Any, user: User, instance: Contact | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, user=user, instance=instance, **kwargs)
        accounts = scoped(user, Account).order_by("name", "id")
        field = self.fields["account"]
        field.queryset = accounts  # type: ignore[attr-defined]
        if accounts[: ACCOUNT_SELECT_LIMIT + 1].count() > ACCOUNT_SELECT_LIMIT:
            field.widget = forms.NumberInput()
            field.help_text = _("The account's number (shown on its page)")
        if instance is not None:
            del self.fields["lifecycle_stage"]
            self.initial.update(
                {
                    "first_name": instance.first_name,
                    "last_name": instance.last_name,
                    "email": instance.email,
                    "phone": instance.phone,
                    "title": instance.title,
                    "account": instance.account_id,
                    "owner": instance.owner_id,
                    "other_emails": "\n".join(
                        e.email for e in instance.emails.all() if e.email != instance.email
                    ),
                    "tags": ", ".join(t.name for t in instance.tags.all()),
                }
            )
        else:
            self.initial.setdefault("owner", user.pk)

    def service_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        stage = {"lifecycle_stage": d["lifecycle_stage"]} if "lifecycle_stage" in d else {}
        return {
            **stage,
            "first_name": d["first_name"],
            "last_name": d["last_name"],
            "email": d["email"],
            "emails": split_list(d["other_emails"]),
            "phone": d["phone"],
            "title": d["title"],
            "account_id": d["account"].pk if d["account"] else None,
            "owner_id": d["owner"].pk if d["owner"] else None,
            "tags": split_list(d["tags"]),
            "custom": self.custom_data(),
        }


# Industry attributes: one group of fields per industry, named ind_<key>.
INDUSTRY_FIELDS: dict[str, list[tuple[str, str]]] = {
    Industry.AGRICULTURE: [("farm_area_ha", "float"), ("crops", "list"), ("livestock", "list")],
    Industry.MEDICAL: [("clinic_type", "clinic"), ("specialties", "list"), ("beds", "int")],
    Industry.ELECTRONICS: [("business_type", "business"), ("product_lines", "list")],
    Industry.OTHER: [],
}
INDUSTRY_LABELS = {
    "farm_area_ha": _("Farm area, ha"),
    "crops": _("Crops"),
    "livestock": _("Livestock"),
    "clinic_type": _("Type of clinic"),
    "specialties": _("Specialties"),
    "beds": _("Beds"),
    "business_type": _("Type of business"),
    "product_lines": _("Product lines"),
}
CLINIC_TYPES = [
    ("hospital", _("Hospital")),
    ("clinic", _("Clinic")),
    ("laboratory", _("Laboratory")),
    ("pharmacy", _("Pharmacy")),
    ("practice", _("Practice")),
]
BUSINESS_TYPES = [
    ("oem", _("Manufacturer (OEM)")),
    ("distributor", _("Distributor")),
    ("integrator", _("Integrator")),
    ("retailer", _("Retailer")),
]


def _industry_field(key: str, kind: str) -> forms.Field:
    label = INDUSTRY_LABELS[key]
    if kind == "float":
        return forms.FloatField(label=label, required=False, min_value=0, localize=True)
    if kind == "int":
        return forms.IntegerField(label=label, required=False, min_value=0, max_value=100_000)
    if kind == "clinic":
        return forms.ChoiceField(label=label, required=False, choices=[("", "—"), *CLINIC_TYPES])
    if kind == "business":
        return forms.ChoiceField(label=label, required=False, choices=[("", "—"), *BUSINESS_TYPES])
    return TextField(
        label=label, required=False, max_length=2000, help_text=_("Separated by commas")
    )


class AccountForm(RecordForm):
    target = AttributeTarget.ACCOUNT

    name = TextField(label=_("Name"), max_length=200)
    domains = TextField(
        label=_("Web domains"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Such as example.com; one per line"),
    )
    industry = forms.ChoiceField(
        label=_("Industry"),
        choices=Industry.choices,
        initial=Industry.OTHER,
        widget=forms.Select(
            attrs={
                "hx-get": reverse_lazy("crm:account_industry_fields"),
                "hx-target": "#industry-fields",
                "hx-trigger": "change",
            }
        ),
    )
    region = TextField(label=_("Region"), max_length=100, required=False)
    owner = OwnerChoiceField(label=_("Owner"), required=False, queryset=User.objects.none())
    tags = TextField(
        label=_("Tags"), required=False, max_length=600, help_text=_("Separated by commas")
    )

    def __init__(
        self,
        *args: Any,
        user: User,
        instance: Account | None = None,
        industry: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, user=user, instance=instance, **kwargs)
        if instance is not None:
            self.initial.update(
                {
                    "name": instance.name,
                    "domains": "\n".join(instance.domains or []),
                    "industry": instance.industry,
                    "region": instance.region,
                    "owner": instance.owner_id,
                    "tags": ", ".join(t.name for t in instance.tags.all()),
                }
            )
        else:
            self.initial.setdefault("owner", user.pk)
        chosen = (
            industry
            or (self.data.get("industry") if self.is_bound else None)
            or (instance.industry if instance is not None else Industry.OTHER)
        )
        self.industry_key = chosen if chosen in INDUSTRY_FIELDS else Industry.OTHER
        current = (
            (instance.industry_attributes or {})
            if (instance is not None and instance.industry == self.industry_key)
            else {}
        )
        for key, kind in INDUSTRY_FIELDS[self.industry_key]:
            self.fields[f"ind_{key}"] = _industry_field(key, kind)
            value = current.get(key)
            self.initial[f"ind_{key}"] = ", ".join(value) if isinstance(value, list) else value

    def main_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in ("name", "domains", "industry", "region", "owner", "tags")]

    def industry_fields(self) -> list[forms.BoundField]:
        return [self[f"ind_{key}"] for key, _kind in INDUSTRY_FIELDS[self.industry_key]]

    def service_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        attrs: dict[str, Any] = {}
        for key, kind in INDUSTRY_FIELDS[self.industry_key]:
            value = d.get(f"ind_{key}")
            if kind == "list":
                if value:
                    attrs[key] = split_list(value)
            elif value not in (None, ""):
                attrs[key] = value
        return {
            "name": d["name"],
            "domains": split_list(d["domains"]),
            "industry": d["industry"],
            "industry_attributes": attrs,
            "region": d["region"],
            "owner_id": d["owner"].pk if d["owner"] else None,
            "tags": split_list(d["tags"]),
            "custom": self.custom_data(),
        }


ACTIVITY_CHANNELS = {
    "sales_call": "phone",
    "meeting": "meeting",
    "field_visit": "field_visit",
    "note": "note",
}


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What happened"),
        choices=[
            ("sales_call", _("Sales call")),
            ("meeting", _("Meeting")),
            ("field_visit", _("Field visit")),
            ("note", _("Note")),
        ],
    )
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        help_text=_("Empty for now"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    note = TextField(
        label=_("Notes"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class IdListField(forms.Field):
    """Several record ids under one name (ticked boxes), as a list of positive integers."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": _("Choose records from the list.")}

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        try:
            ids = [int(v) for v in values]
        except (TypeError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if any(pk < 1 or pk > 2**63 - 1 for pk in ids):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return ids


class MergeForm(forms.Form):
    """The contact to keep and the ones folded into it (at least one other)."""

    survivor = forms.IntegerField(min_value=1, max_value=2**63 - 1)
    merged = IdListField()

    def others(self) -> list[int]:
        return sorted(set(self.cleaned_data["merged"]) - {self.cleaned_data["survivor"]})


class TimelineFilterForm(forms.Form):
    department = forms.ChoiceField(
        required=False,
        label=_("Department"),
        choices=[
            ("", _("All departments")),
            ("marketing", _("Marketing")),
            ("sales", _("Sales")),
            ("field", _("Field")),
            ("self_service", _("Self-service")),
        ],
    )
    channel = TextField(required=False, max_length=40, label=_("Channel"))
    bots = forms.BooleanField(required=False, label=_("Show bot activity"))


class ErasureForm(forms.Form):
    """The confirmation of a person's erasure: their contact number, typed again."""

    confirm = forms.IntegerField(
        label=_("Type the contact's number to confirm"), min_value=1, max_value=2**63 - 1
    )

    def __init__(self, *args: Any, contact_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contact_id = contact_id

    def clean_confirm(self) -> int:
        value = int(self.cleaned_data["confirm"])
        if value != self.contact_id:
            raise ValidationError(_("This is not the contact's number."))
        return value
