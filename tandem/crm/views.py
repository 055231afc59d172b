"""Pages of the customer record: lists, detail with the unified timeline, forms, duplicates.

Every read goes through `scoped`/`get_scoped` (an invisible record is a 404, also for edit and
delete); every write goes through `tandem.crm.services`. htmx requests get partials only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.core import export_jobs
from tandem.core import exports as core_exports
from tandem.core.access import can, get_scoped, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.models import Department, User
from tandem.core.pickers import pick_options
from tandem.crm import selectors, services
from tandem.crm.forms import (
    ACTIVITY_CHANNELS,
    AccountForm,
    ActivityForm,
    ContactForm,
    ListFilterForm,
    MergeForm,
    TimelineFilterForm,
)
from tandem.crm.models import Account, Contact, CustomAttribute, Industry, LifecycleStage

FIELD_ALIASES = {
    "account_id": "account",
    "owner_id": "owner",
    "emails": "other_emails",
    "industry_attributes": "industry",
}


def _list_query(form: ListFilterForm, cursor: str | None) -> selectors.ListQuery:
    return selectors.ListQuery(
        q=form.value("q") or "",
        owner_id=form.value("owner"),
        lifecycle_stage=form.value("lifecycle_stage") or "",
        industry=form.value("industry") or "",
        consent=form.value("consent") or "",
        tag=form.value("tag") or "",
        sort=form.value("sort") or "name",
        cursor=cursor or None,
    )


def _export_query(request: HttpRequest) -> str:
    """The list's current filters, search and sort, for its export links (no cursor)."""
    query = request.GET.copy()
    for key in ("cursor", "format"):
        query.pop(key, None)
    return query.urlencode()


def _labels(choices: list[tuple[str, Any]]) -> dict[str, str]:
    """Choice labels by value, translated once for the page (not once per row, as
    `get_FOO_display` does)."""
    return {value: str(label) for value, label in choices}


def _is_results_request(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and getattr(htmx, "target", None) == "results"


# --- lists ----------------------------------------------------------------------------------


@login_required
@require_GET
def contact_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = ListFilterForm(request.GET)
    page = selectors.contact_list(user, _list_query(form, request.GET.get("cursor")))
    context = {
        "form": form,
        "page": page,
        "htmx_target": "#results",
        "can_create": can(user, "create_records"),
        "can_export": can(user, "export"),
        "can_add_to_list": can(user, "use_marketing"),
        "export_query": _export_query(request),
        "stage_labels": _labels(LifecycleStage.choices),
    }
    if _is_results_request(request):
        return render(request, "crm/_contact_results.html", context)
    return render(request, "crm/contact_list.html", context)


@login_required
@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = ListFilterForm(request.GET, for_accounts=True)
    page = selectors.account_list(user, _list_query(form, request.GET.get("cursor")))
    context = {
        "form": form,
        "page": page,
        "htmx_target": "#results",
        "can_create": can(user, "create_records"),
        "can_export": can(user, "export"),
        "export_query": _export_query(request),
        "industry_labels": _labels(Industry.choices),
    }
    if _is_results_request(request):
        return render(request, "crm/_account_results.html", context)
    return render(request, "crm/account_list.html", context)


def _filters(query: selectors.ListQuery) -> dict[str, Any]:
    """What the audit entry of an export records about the list it came from."""
    return {k: v for k, v in vars(query).items() if k != "cursor"}


def _list_export(request: HttpRequest, *, accounts: bool) -> HttpResponseBase:
    """The whole filtered, searched and sorted list as CSV (streamed) or XLSX; a list longer
    than EXPORT_BACKGROUND_ROWS is written by a worker and the answer is its page."""
    user = request_user(request)
    query = _list_query(ListFilterForm(request.GET, for_accounts=accounts), None)
    try:
        fmt = core_exports.page_format(user, request.GET.get("format"))
        answer = export_jobs.export_respond(
            actor=Actor.of(request),
            kind="crm.accounts" if accounts else "crm.contacts",
            filters=_filters(query),
            fmt=fmt,
        )
        return export_jobs.page_answer(answer)  # a long list: the export's page
    except InvalidInput as exc:
        return core_exports.refused(exc)


@login_required
@require_GET
def contact_export(request: HttpRequest) -> HttpResponseBase:
    """The contacts list as the page shows it (filters, search, sort), every row of it."""
    return _list_export(request, accounts=False)


@login_required
@require_GET
def account_export(request: HttpRequest) -> HttpResponseBase:
    """The accounts list as the page shows it (filters, search, sort), every row of it."""
    return _list_export(request, accounts=True)


# --- the timeline ---------------------------------------------------------------------------


def _timeline_context(
    request: HttpRequest, *, contact: Contact | None = None, account: Account | None = None
) -> dict[str, Any]:
    user = request_user(request)
    form = TimelineFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    page = selectors.timeline(
        user,
        contact=contact,
        account=account,
        department=data.get("department") or "",
        channel=data.get("channel") or "",
        show_bots=bool(data.get("bots")),
        cursor=request.GET.get("cursor"),
    )
    base = (
        reverse("crm:contact_timeline", args=[contact.pk])
        if contact is not None
        else reverse("crm:account_timeline", args=[account.pk if account else 0])
    )
    return {
        "timeline_form": form,
        "timeline": page,
        "timeline_url": base,
        "channels": selectors.timeline_channels(user, contact=contact, account=account),
        "show_contact": contact is None,
    }


def _timeline_response(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    if request.GET.get("cursor"):
        return render(request, "crm/_timeline_items.html", context)
    return render(request, "crm/_timeline.html", context)


@login_required
@require_GET
def contact_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_scoped(request_user(request), Contact, pk)
    return _timeline_response(request, _timeline_context(request, contact=contact))


@login_required
@require_GET
def account_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_scoped(request_user(request), Account, pk)
    return _timeline_response(request, _timeline_context(request, account=account))


# --- contacts -------------------------------------------------------------------------------


@login_required
@require_GET
def contact_pick(request: HttpRequest) -> HttpResponse:
    """Suggestions of a contact picker (`core.pickers.SearchPickField`): the contacts the viewer
    sees whose name matches what they typed, as boxes to tick."""
    user = request_user(request)
    return pick_options(
        request,
        scoped(user, Contact).select_related("account"),
        search=selectors.contacts_by_name,
        label_of=selectors.contact_pick_label,
    )


@login_required
@require_GET
def account_pick(request: HttpRequest) -> HttpResponse:
    """Suggestions of an account picker (`core.pickers.SearchPickField`): the accounts the viewer
    sees whose name, domain or region matches what they typed, as boxes to tick."""
    return pick_options(
        request,
        scoped(request_user(request), Account),
        search=selectors.accounts_by_name,
        label_of=selectors.account_pick_label,
    )


def _custom_rows(target: str, values: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (a.label, values[a.key])
        for a in CustomAttribute.objects.filter(target=target)
        if values.get(a.key) not in (None, "")
    ]


def _may(user: User, model: type[Any], pk: int, action: str) -> bool:
    return scoped(user, model, action).filter(pk=pk).exists()  # type: ignore[arg-type]


@login_required
@require_GET
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    contact = get_scoped(user, Contact, pk)
    account = (
        scoped(user, Account).filter(pk=contact.account_id).first() if contact.account_id else None
    )
    return render(
        request,
        "crm/contact_detail.html",
        {
            "contact": contact,
            "account": account,
            "emails": contact.emails.order_by("-is_primary", "email"),
            "phones": contact.phones.all(),
            "tags": contact.tags.all(),
            "custom_rows": _custom_rows("contact", contact.custom or {}),
            "can_change": _may(user, Contact, contact.pk, "change"),
            "can_delete": _may(user, Contact, contact.pk, "delete"),
            "can_handle_privacy": can(user, "handle_privacy_requests"),
            "activity_form": ActivityForm(),
            "record_panels": selectors.record_panels(request, contact),
            **_timeline_context(request, contact=contact),
        },
    )


def _form_page(
    request: HttpRequest,
    form: Any,
    template: str,
    save: Callable[[dict[str, Any]], Model],
    *,
    saved: str,
    detail: str,
    context: dict[str, Any] | None = None,
) -> HttpResponse:
    """Show a record form; on POST, save through a service, turning InvalidInput into field
    errors (400) or redirecting to the record's page with a message."""
    context = {"form": form, **(context or {})}
    if request.method != "POST":
        return render(request, template, context)
    if form.is_valid():
        try:
            record = save(form.service_data())
        except InvalidInput as exc:
            apply_invalid_input(form, exc, FIELD_ALIASES)
        else:
            messages.success(request, saved)
            return redirect(detail, pk=record.pk)
    return render(request, template, context, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not can(user, "create_records"):
        raise PermissionDenied
    return _form_page(
        request,
        ContactForm(request.POST or None, user=user),
        "crm/contact_form.html",
        lambda data: services.contact_create(actor=Actor.of(request), **data),
        saved=_("Contact created."),
        detail="crm:contact_detail",
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    contact = get_scoped(user, Contact, pk, "change")
    return _form_page(
        request,
        ContactForm(request.POST or None, user=user, instance=contact),
        "crm/contact_form.html",
        lambda data: services.contact_update(actor=Actor.of(request), contact=contact, **data),
        saved=_("Contact saved."),
        detail="crm:contact_detail",
        context={"contact": contact},
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    contact = get_scoped(user, Contact, pk, "delete")
    if request.method == "POST":
        try:
            services.contact_delete(actor=Actor.of(request), contact=contact)
        except InvalidInput as exc:
            messages.error(request, exc.message)
            return redirect("crm:contact_detail", contact.pk)
        messages.success(request, _("Contact deleted."))
        return redirect("crm:contact_list")
    return render(
        request,
        "crm/confirm_delete.html",
        {
            "record": contact,
            "cancel_url": reverse("crm:contact_detail", args=[contact.pk]),
        },
    )


def _activity_department(user: User, kind: str) -> str:
    department = user.department
    if department in Department.values:
        return str(department)
    return Department.FIELD if kind == "field_visit" else Department.SALES


def _activity_log(
    request: HttpRequest, form: ActivityForm, *, contact: Contact | None, account: Account | None
) -> None:
    """Append the activity to the record's timeline through crm's one touchpoint writer; an
    activity logged on an account belongs to the account, with no contact."""
    user = request_user(request)
    kind = form.cleaned_data["kind"]
    note = form.cleaned_data["note"]
    try:
        services.touchpoint_record(
            channel=ACTIVITY_CHANNELS[kind],
            kind=kind,
            department=_activity_department(user, kind),
            contact=contact,
            account=account,
            occurred_at=form.cleaned_data["occurred_at"],
            actor=user,
            properties={"note": note} if note else {},
            source="tandem_ui",
        )
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Activity logged."))


@login_required
@require_POST
def contact_activity(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a sales call, meeting, field visit or note on the contact's timeline."""
    user = request_user(request)
    contact = get_scoped(user, Contact, pk, "change")
    form = ActivityForm(request.POST)
    if not form.is_valid():
        context = {
            "contact": contact,
            "account": None,
            "emails": contact.emails.all(),
            "phones": contact.phones.all(),
            "tags": contact.tags.all(),
            "custom_rows": _custom_rows("contact", contact.custom or {}),
            "can_change": True,
            "can_delete": _may(user, Contact, contact.pk, "delete"),
            "can_handle_privacy": can(user, "handle_privacy_requests"),
            "activity_form": form,
            "record_panels": selectors.record_panels(request, contact),
            **_timeline_context(request, contact=contact),
        }
        return render(request, "crm/contact_detail.html", context, status=400)
    _activity_log(request, form, contact=contact, account=None)
    return redirect("crm:contact_detail", pk=contact.pk)


# --- accounts -------------------------------------------------------------------------------


def _account_context(
    request: HttpRequest, account: Account, activity_form: ActivityForm
) -> dict[str, Any]:
    user = request_user(request)
    contacts = (
        scoped(user, Contact).filter(account=account).order_by("last_name", "first_name", "id")[:50]
    )
    return {
        "account": account,
        "contacts": contacts,
        "tags": account.tags.all(),
        "industry_rows": _industry_rows(account),
        "custom_rows": _custom_rows("account", account.custom or {}),
        "can_change": _may(user, Account, account.pk, "change"),
        "can_delete": _may(user, Account, account.pk, "delete"),
        "activity_form": activity_form,
        "record_panels": selectors.record_panels(request, account),
        **_timeline_context(request, account=account),
    }


@login_required
@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_scoped(request_user(request), Account, pk)
    return render(
        request, "crm/account_detail.html", _account_context(request, account, ActivityForm())
    )


@login_required
@require_POST
def account_activity(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a sales call, meeting, field visit or note on the account's timeline (no contact)."""
    account = get_scoped(request_user(request), Account, pk, "change")
    form = ActivityForm(request.POST)
    if not form.is_valid():
        return render(
            request, "crm/account_detail.html", _account_context(request, account, form), status=400
        )
    _activity_log(request, form, contact=None, account=account)
    return redirect("crm:account_detail", pk=account.pk)


def _industry_rows(account: Account) -> list[tuple[str, Any]]:
    from tandem.crm.forms import INDUSTRY_LABELS

    rows = []
    for key, value in (account.industry_attributes or {}).items():
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        rows.append((INDUSTRY_LABELS.get(key, key), shown))
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def account_create(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not can(user, "create_records"):
        raise PermissionDenied
    form = AccountForm(
        request.POST or None, user=user, industry=request.GET.get("industry") or None
    )
    return _form_page(
        request,
        form,
        "crm/account_form.html",
        lambda data: services.account_create(actor=Actor.of(request), **data),
        saved=_("Account created."),
        detail="crm:account_detail",
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    account = get_scoped(user, Account, pk, "change")
    return _form_page(
        request,
        AccountForm(request.POST or None, user=user, instance=account),
        "crm/account_form.html",
        lambda data: services.account_update(actor=Actor.of(request), account=account, **data),
        saved=_("Account saved."),
        detail="crm:account_detail",
        context={"account": account},
    )


@login_required
@require_GET
def account_industry_fields(request: HttpRequest) -> HttpResponse:
    """The industry-specific fields for the chosen industry (htmx swaps them in)."""
    user = request_user(request)
    form = AccountForm(user=user, industry=request.GET.get("industry") or None)
    return render(request, "crm/_industry_fields.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    account = get_scoped(user, Account, pk, "delete")
    if request.method == "POST":
        try:
            services.account_delete(actor=Actor.of(request), account=account)
        except InvalidInput as exc:
            messages.error(request, exc.message)
            return redirect("crm:account_detail", account.pk)
        messages.success(request, _("Account deleted."))
        return redirect("crm:account_list")
    return render(
        request,
        "crm/confirm_delete.html",
        {
            "record": account,
            "cancel_url": reverse("crm:account_detail", args=[account.pk]),
        },
    )


# --- duplicates -----------------------------------------------------------------------------


@login_required
@require_GET
def duplicates(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    return render(
        request,
        "crm/duplicates.html",
        {
            "contact_groups": selectors.duplicate_groups(user, Contact),
            "account_groups": selectors.duplicate_groups(user, Account),
            "can_merge": can(user, "merge_records"),
        },
    )


@login_required
@require_POST
def contacts_merge(request: HttpRequest) -> HttpResponse:
    """Fold the chosen contacts into the one to keep; all of them must be changeable."""
    user = request_user(request)
    if not can(user, "merge_records"):
        raise PermissionDenied
    form = MergeForm(request.POST)
    if not form.is_valid() or not form.others():
        messages.error(request, _("Choose the contact to keep and at least one other."))
        return redirect("crm:duplicates")
    survivor = get_scoped(user, Contact, form.cleaned_data["survivor"], "change")
    others = [get_scoped(user, Contact, pk, "change") for pk in form.others()]
    try:
        with transaction.atomic():
            for other in others:
                survivor = services.contacts_merge(
                    actor=Actor.of(request), survivor=survivor, merged=other
                )
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("crm:duplicates")
    messages.success(request, _("Contacts merged."))
    return redirect("crm:contact_detail", pk=survivor.pk)
