"""Forms of the sales pages: they parse input; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse_lazy
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from tandem.core.pickers import SearchPickField
from tandem.crm.selectors import contact_pick_label
from tandem.sales.models import BuyingRole, ForecastCategory, PriceList, StageKind, StepKind

CONTACT_SEARCH = reverse_lazy("crm:contact_pick")


def contact_picker(**kwargs: Any) -> SearchPickField:
    """A contact (or several) picked by name; the form sets the viewer's scoped contacts."""
    return SearchPickField(search_url=CONTACT_SEARCH, label_of=contact_pick_label, **kwargs)


class DealForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    pipeline = forms.TypedChoiceField(label=_("Pipeline"), coerce=int)
    account = forms.TypedChoiceField(
        label=_("Account"), coerce=int, required=False, empty_value=None
    )
    contact = contact_picker(label=_("Contact"), required=False)
    role = forms.ChoiceField(
        label=_("Buying role"), choices=BuyingRole.choices, initial=BuyingRole.DECISION_MAKER
    )
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=14, decimal_places=2, min_value=0, initial=0
    )
    currency = forms.RegexField(label=_("Currency"), regex=r"^[A-Za-z]{3}$", max_length=3)
    close_date = forms.DateField(
        label=_("Expected close date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(
        self, *args: Any, pipelines: Any, accounts: Any, contacts: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pipeline"].choices = [(p.pk, p.name) for p in pipelines]  # type: ignore[attr-defined]
        self.fields["account"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (a.pk, a.name) for a in accounts
        ]
        self.fields["contact"].queryset = contacts  # type: ignore[attr-defined]


class DealEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    close_date = forms.DateField(
        label=_("Expected close date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    forecast_category = forms.ChoiceField(
        label=_("Forecast category"),
        required=False,
        choices=[
            ("", _("As the stage says")),
            (ForecastCategory.PIPELINE, _("Pipeline")),
            (ForecastCategory.BEST_CASE, _("Best case")),
            (ForecastCategory.COMMIT, _("Commit")),
            (ForecastCategory.OMITTED, _("Omitted")),
        ],
    )


class DealMoveForm(forms.Form):
    stage = forms.IntegerField(
        label=_("Move to stage"),
        min_value=1,
        error_messages={"required": _("Choose a stage."), "invalid": _("Choose a stage.")},
    )


class LoseForm(forms.Form):
    loss_reason = forms.TypedChoiceField(label=_("Reason"), coerce=int)
    note = forms.CharField(
        label=_("Note"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, reasons: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["loss_reason"].choices = [(r.pk, r.name) for r in reasons]  # type: ignore[attr-defined]


class DealContactForm(forms.Form):
    """A person of the buying group: a contact the viewer sees, picked by name, and a role."""

    contact = contact_picker(label=_("Contact"))
    role = forms.ChoiceField(label=_("Buying role"), choices=BuyingRole.choices)

    def __init__(self, *args: Any, contacts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = contacts  # type: ignore[attr-defined]


def price_list_label(price_list: PriceList) -> str:
    """How a price list is named in a picker: name, currency and tax rate."""
    return _("%(name)s — %(currency)s, tax %(tax)s%%") % {
        "name": price_list.name,
        "currency": price_list.currency,
        "tax": formats.number_format(price_list.tax_percent.normalize(), use_l10n=True),
    }


class _LinePicker(forms.Form):
    """A product picked by name and, optionally, the price list it is priced from (blank: the
    deal's list, else the currency's default offered today)."""

    product = forms.TypedChoiceField(
        label=_("Product"), coerce=int, required=False, empty_value=None
    )
    price_list = forms.TypedChoiceField(
        label=_("Price list"),
        coerce=int,
        required=False,
        empty_value=None,
        help_text=_("Only price lists valid today are offered."),
    )

    def __init__(self, *args: Any, products: Any, price_lists: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (p.pk, f"{p.name} ({p.sku})") for p in products
        ]
        self.fields["price_list"].choices = [  # type: ignore[attr-defined]
            ("", _("The deal's or the default"))
        ] + [(pl.pk, price_list_label(pl)) for pl in price_lists]


class DealLineForm(_LinePicker):
    quantity = forms.DecimalField(
        label=_("Quantity"), max_digits=12, decimal_places=2, min_value=0.01, initial=1
    )
    discount_percent = forms.DecimalField(
        label=_("Discount (%)"),
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        initial=0,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].required = True


class QuoteLineForm(_LinePicker):
    description = forms.CharField(label=_("Description"), max_length=300, required=False)
    quantity = forms.DecimalField(
        label=_("Quantity"), max_digits=12, decimal_places=2, min_value=0.01, initial=1
    )
    unit_price = forms.DecimalField(
        label=_("Unit price"),
        max_digits=14,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=_("Blank: the price list's price."),
    )
    discount_percent = forms.DecimalField(
        label=_("Discount (%)"),
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        initial=0,
    )
    tax_percent = forms.DecimalField(
        label=_("Tax (%)"),
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        required=False,
        help_text=_("Blank: the price list's tax rate."),
    )
    valid_days = forms.IntegerField(
        label=_("Valid for (days)"), min_value=1, max_value=365, initial=30
    )
    use_deal_products = forms.BooleanField(
        label=_("Quote the deal's products instead"), required=False
    )

    field_order = [
        "product",
        "price_list",
        "description",
        "quantity",
        "unit_price",
        "discount_percent",
        "tax_percent",
        "valid_days",
        "use_deal_products",
    ]


# --- the catalogue (settings) ---------------------------------------------------------------


class ProductForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=60)
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    self_service = forms.BooleanField(label=_("Buyers may request a price online"), required=False)


class PriceListForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    currency = forms.RegexField(
        label=_("Currency"),
        regex=r"^[A-Za-z]{3}$",
        max_length=3,
        error_messages={"invalid": _("A three-letter currency code such as EUR.")},
    )
    tax_percent = forms.DecimalField(
        label=_("Tax (%)"), max_digits=5, decimal_places=2, min_value=0, max_value=100, initial=0
    )
    valid_from = forms.DateField(
        label=_("Valid from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Blank: from any day."),
    )
    valid_until = forms.DateField(
        label=_("Valid until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The last day it is offered; blank: no end."),
    )
    is_default = forms.BooleanField(label=_("Default for its currency"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end < start:
            self.add_error("valid_until", _("The last day is before the first."))
        if data.get("currency"):
            data["currency"] = data["currency"].upper()
        return data


class PriceForm(forms.Form):
    product = forms.TypedChoiceField(label=_("Product"), coerce=int)
    unit_price = forms.DecimalField(
        label=_("Unit price"), max_digits=14, decimal_places=2, min_value=0
    )

    def __init__(self, *args: Any, products: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [  # type: ignore[attr-defined]
            (p.pk, f"{p.name} ({p.sku})") for p in products
        ]


class AcceptForm(forms.Form):
    name = forms.CharField(label=_("Your full name"), max_length=200)
    agree = forms.BooleanField(label=_("I accept this quote"))


class QuestionForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=200)
    text = forms.CharField(label=_("Your question"), max_length=5000, widget=forms.Textarea)


class PriceRequestForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    product = forms.TypedChoiceField(label=_("Product"), coerce=int)
    quantity = forms.DecimalField(
        label=_("Quantity"),
        max_digits=12,
        decimal_places=2,
        min_value=0.01,
        max_value=100000,
        initial=1,
    )
    message = forms.CharField(
        label=_("Message"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    talk_to_sales = forms.BooleanField(
        label=_("I would like to talk to a salesperson"), required=False
    )

    def __init__(self, *args: Any, products: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [(p.pk, p.name) for p in products]  # type: ignore[attr-defined]


class SequenceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    steps = forms.CharField(
        label=_("Steps"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=20000,
        help_text=_(
            "One step a line: 'email: subject | text', 'call: note', "
            "'linkedin: note' or 'wait: N' (business days)."
        ),
    )

    def clean_steps(self) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = []
        for number, raw in enumerate(self.cleaned_data["steps"].splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            kind, _sep, rest = line.partition(":")
            kind, rest = kind.strip().lower(), rest.strip()
            if kind not in StepKind.values:
                raise forms.ValidationError(_("Line %(n)d: unknown step kind.") % {"n": number})
            if kind == StepKind.WAIT:
                if not rest.isdigit():
                    raise forms.ValidationError(
                        _("Line %(n)d: wait needs a number of days.") % {"n": number}
                    )
                steps.append({"kind": kind, "wait_days": int(rest)})
            elif kind == StepKind.EMAIL:
                subject, _sep, body = rest.partition("|")
                steps.append(
                    {
                        "kind": kind,
                        "subject": subject.strip(),
                        "body": body.strip().replace("\\n", "\n"),
                    }
                )
            else:
                steps.append({"kind": kind, "body": rest})
        return steps


class SequenceStepsForm(SequenceForm):
    """New steps for a sequence (the same lines as when creating it); saving publishes them as
    a new version of its flow."""

    name = None  # type: ignore[assignment]

    @staticmethod
    def as_text(steps: Any) -> str:
        """The steps as the form's lines (what the edit form starts from)."""
        lines = []
        for step in steps:
            if step.kind == StepKind.WAIT:
                lines.append(f"wait: {step.wait_days}")
            elif step.kind == StepKind.EMAIL:
                body = step.body.replace("\n", "\\n")
                lines.append(f"email: {step.subject} | {body}")
            else:
                lines.append(f"{step.kind}: {step.body}".rstrip())
        return "\n".join(lines)


class EnrolForm(forms.Form):
    """Contacts to enrol in a sequence: up to 500 the viewer sees, picked by name."""

    contact_ids = contact_picker(label=_("Contacts"), multiple=True, max_choices=500)

    def __init__(self, *args: Any, contacts: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact_ids"].queryset = contacts  # type: ignore[attr-defined]


class PipelineForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    is_default = forms.BooleanField(
        label=_("Default pipeline"),
        required=False,
        help_text=_("New deals go here unless another pipeline is chosen."),
    )


class StageRowForm(forms.Form):
    """One stage of a new pipeline; a row left without a name is skipped."""

    name = forms.CharField(label=_("Stage"), max_length=120, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=StageKind.choices, initial=StageKind.OPEN)
    probability = forms.IntegerField(
        label=_("Win probability (%)"), min_value=0, max_value=100, required=False
    )
    forecast_category = forms.ChoiceField(
        label=_("Forecast category"),
        choices=[("", _("By kind")), *ForecastCategory.choices],
        required=False,
    )


StageRowFormSet = forms.formset_factory(StageRowForm, extra=0, max_num=30, validate_max=True)

# What a new pipeline's rows start with: a common B2B pipeline the admin can rename or shorten.
STAGE_ROWS_INITIAL: list[dict[str, Any]] = [
    {"name": _("Qualification"), "kind": StageKind.OPEN, "probability": 10},
    {"name": _("Proposal"), "kind": StageKind.OPEN, "probability": 40},
    {"name": _("Negotiation"), "kind": StageKind.OPEN, "probability": 70},
    {"name": _("Won"), "kind": StageKind.WON, "probability": 100},
    {"name": _("Lost"), "kind": StageKind.LOST, "probability": 0},
    {"name": "", "kind": StageKind.OPEN, "probability": None},
]


def stage_rows(formset: Any) -> list[dict[str, Any]]:
    """The stages a valid formset names, in order, as `services.pipeline_create` takes them."""
    rows = []
    for row in formset.cleaned_data:
        if not row or not (row.get("name") or "").strip():
            continue
        stage: dict[str, Any] = {"name": row["name"].strip(), "kind": row["kind"]}
        if row.get("probability") is not None:
            stage["probability"] = row["probability"]
        elif row["kind"] == StageKind.OPEN:
            stage["probability"] = 0
        if row.get("forecast_category"):
            stage["forecast_category"] = row["forecast_category"]
        rows.append(stage)
    return rows
