"""Forms of the sales pages: they parse input; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from tandem.sales.models import BuyingRole, ForecastCategory, PriceList, StepKind


class DealForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    pipeline = forms.TypedChoiceField(label=_("Pipeline"), coerce=int)
    account = forms.TypedChoiceField(
        label=_("Account"), coerce=int, required=False, empty_value=None
    )
    contact = forms.TypedChoiceField(
        label=_("Contact"), coerce=int, required=False, empty_value=None
    )
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
        self.fields["contact"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (c.pk, str(c)) for c in contacts
        ]


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
    contact = forms.IntegerField(label=_("Contact id"), min_value=1)
    role = forms.ChoiceField(label=_("Buying role"), choices=BuyingRole.choices)


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


class EnrolForm(forms.Form):
    contact_ids = forms.CharField(
        label=_("Contact ids"), max_length=2000, help_text=_("Separated by commas.")
    )

    def clean_contact_ids(self) -> list[int]:
        try:
            ids = [
                int(x) for x in self.cleaned_data["contact_ids"].replace(" ", "").split(",") if x
            ]
        except ValueError:
            raise forms.ValidationError(_("Only numbers separated by commas.")) from None
        if not ids or len(ids) > 500 or any(i < 1 or i > 2**63 - 1 for i in ids):
            raise forms.ValidationError(_("From 1 to 500 contact ids."))
        return ids
