"""Sales pages: kanban board, deal list and detail, forecast, quotes, sequences and the rep's
daily task list. Thin: parse a form, call a service, render. Every record comes from `scoped`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tandem.automation.models import Enrolment as FlowEnrolment
from tandem.core.access import can, get_scoped, request_user, scoped
from tandem.core.api_errors import ApiError
from tandem.core.api_pagination import keyset_page
from tandem.core.audit import Actor
from tandem.core.business_days import local_today
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.core.models import Organisation, User
from tandem.core.pickers import MAX_ID
from tandem.crm import selectors as crm_selectors
from tandem.crm.models import Account, Contact
from tandem.sales import catalogue, quotes, sequences, services
from tandem.sales import forecast as fc
from tandem.sales.forms import (
    DealContactForm,
    DealEditForm,
    DealForm,
    DealLineForm,
    DealMoveForm,
    EnrolForm,
    LoseForm,
    QuoteLineForm,
    SequenceForm,
    SequenceStepsForm,
)
from tandem.sales.models import (
    Deal,
    DealContact,
    DealStageVisit,
    DealStatus,
    Enrolment,
    LossReason,
    Pipeline,
    Quote,
    SalesTask,
    Sequence,
    Stage,
)

PAGE_SIZE = 50


def _changeable(request: HttpRequest, pk: int) -> Deal:
    """The deal if the user may change it; 404 if they may not see it, 403 if only see it."""
    deal = get_scoped(request.user, Deal, pk)
    if not scoped(request.user, Deal, "change").filter(pk=deal.pk).exists():
        raise PermissionError
    return deal


def _pickable_contacts(request: HttpRequest) -> Any:
    """The contacts a picker on these pages may offer and accept: the viewer's."""
    return scoped(request.user, Contact).select_related("account")


def _forbidden(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_("You may not change this deal."), status=403)


# --- board and list -------------------------------------------------------------------------


@login_required
def board(request: HttpRequest, pipeline_id: int | None = None) -> HttpResponse:
    pipelines = list(scoped(request.user, Pipeline))
    if not pipelines:
        return render(request, "sales/board.html", {"pipelines": [], "columns": []})
    pipeline = (
        next((p for p in pipelines if p.pk == pipeline_id), None)
        if pipeline_id
        else (next((p for p in pipelines if p.is_default), pipelines[0]))
    )
    if pipeline is None:
        raise Http404
    deals = scoped(request.user, Deal).filter(pipeline=pipeline, status=DealStatus.OPEN)
    if request.GET.get("mine"):
        deals = deals.filter(owner=request_user(request))
    by_stage: dict[int, list[Deal]] = {}
    for deal in deals.select_related("owner", "account").order_by("close_date", "id")[:2000]:
        by_stage.setdefault(deal.stage_id, []).append(deal)
    totals: dict[int, dict[str, Any]] = {
        r["stage_id"]: dict(r)
        for r in deals.values("stage_id").annotate(n=Count("id"), total=Sum("amount"))
    }
    columns = [
        {
            "stage": s,
            "deals": by_stage.get(s.pk, []),
            "count": totals.get(s.pk, {}).get("n", 0),
            "total": totals.get(s.pk, {}).get("total"),
        }
        for s in pipeline.stages.filter(kind="open")
    ]
    can_change = can(request.user, "sell")
    return render(
        request,
        "sales/board.html",
        {
            "pipelines": pipelines,
            "pipeline": pipeline,
            "columns": columns,
            "can_change": can_change,
            "reasons": LossReason.objects.filter(active=True),
        },
    )


@login_required
def deal_list(request: HttpRequest) -> HttpResponse:
    deals = scoped(request.user, Deal).select_related("stage", "owner", "account", "pipeline")
    f = request.GET
    status = f.get("status", "")
    if status in DealStatus.values:
        deals = deals.filter(status=status)
    for key in ("pipeline", "stage", "owner"):
        value = f.get(key, "")
        if value.isascii() and value.isdigit() and int(value) <= MAX_ID:
            deals = deals.filter(**{f"{key}_id": int(value)})
    q = f.get("q", "").strip()[:200]
    if q:
        deals = deals.filter(Q(name__icontains=q) | Q(account__name__icontains=q))
    try:
        rows, next_cursor = keyset_page(
            deals,
            kind="deal_list",
            time_field="created_at",
            cursor=f.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except ApiError:
        rows, next_cursor = keyset_page(
            deals, kind="deal_list", time_field="created_at", cursor=None, limit=PAGE_SIZE
        )
    return render(
        request,
        "sales/deal_list.html",
        {
            "deals": rows,
            "next_cursor": next_cursor,
            "pipelines": scoped(request.user, Pipeline),
            "stages": Stage.objects.filter(kind="open").select_related("pipeline"),
            "statuses": DealStatus.choices,
            "filters": {k: f.get(k, "") for k in ("status", "pipeline", "stage", "owner", "q")},
        },
    )


@login_required
def deal_create(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "sell"):
        raise Http404
    kwargs = {
        "pipelines": scoped(request.user, Pipeline),
        "accounts": scoped(request.user, Account).order_by("name")[:500],
        "contacts": _pickable_contacts(request),
    }
    initial = {"currency": Organisation.current().currency}
    form = DealForm(request.POST or None, initial=initial, **kwargs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            deal = services.deal_create(
                actor=Actor.of(request),
                name=data["name"],
                pipeline_id=data["pipeline"],
                account_id=data["account"],
                owner_id=request.user.pk,
                amount=data["amount"],
                currency_code=data["currency"],
                close_date=data["close_date"],
                contacts=[{"contact_id": data["contact"], "role": data["role"]}]
                if data["contact"]
                else [],
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            return redirect("sales:deal_detail", pk=deal.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "sales/deal_form.html", {"form": form}, status=status)


# --- one deal -------------------------------------------------------------------------------


@login_required
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _deal_page(request, get_scoped(request.user, Deal, pk))


def _deal_page(
    request: HttpRequest, deal: Deal, failed: dict[str, forms.Form] | None = None
) -> HttpResponse:
    """The deal's page; `failed` holds a form the user just sent that was refused, by its slot
    on the page, shown with its errors (HTTP 400)."""
    can_change = scoped(request.user, Deal, "change").filter(pk=deal.pk).exists()
    now = timezone.now()
    visits = [
        {
            "stage": v.stage,
            "entered_at": v.entered_at,
            "left_at": v.left_at,
            "duration": (v.left_at or now) - v.entered_at,
        }
        for v in DealStageVisit.objects.filter(deal=deal).select_related("stage")
    ]
    deal_quotes = list(deal.quotes.all())
    for quote in deal_quotes:
        quote.link = (  # type: ignore[attr-defined]
            request.build_absolute_uri(
                reverse("sales_public:quote", args=[quotes.public_token(quote)])
            )
            if quote.status in ("sent", "viewed", "accepted")
            else ""
        )
    pickers = _line_pickers(deal)
    page_forms: dict[str, forms.Form] = {
        "move_form": DealMoveForm(),
        "lose_form": LoseForm(reasons=LossReason.objects.filter(active=True)),
        "edit_form": DealEditForm(
            initial={
                "name": deal.name,
                "close_date": deal.close_date,
                "forecast_category": deal.forecast_category,
            }
        ),
        "contact_form": DealContactForm(contacts=_pickable_contacts(request)),
        "line_form": DealLineForm(**_line_pickers(deal, for_new_line=True)),
        "quote_form": QuoteLineForm(**pickers),
    } | (failed or {})
    return render(
        request,
        "sales/deal_detail.html",
        {
            "deal": deal,
            "can_change": can_change,
            "visits": visits,
            "contacts": deal.deal_contacts.select_related("contact").order_by("id"),
            "lines": deal.lines.select_related("product", "price_list"),
            "stages": deal.pipeline.stages.filter(kind="open"),
            "quotes": deal_quotes,
            "record_panels": crm_selectors.record_panels(request, deal),
            **page_forms,
            "failed": next(iter(failed.values())) if failed else None,
        },
        status=400 if failed else 200,
    )


def _line_pickers(deal: Deal, *, for_new_line: bool = False) -> dict[str, Any]:
    """What a line picker on the deal's page offers: the price lists valid today (in the deal's
    currency; any currency for the first product of a deal without lines) and the products
    priced in them."""
    day = catalogue.business_date()
    any_currency = for_new_line and not deal.lines.exists()
    code = None if any_currency else deal.currency
    return {
        "products": catalogue.offered_products(day, code),
        "price_lists": catalogue.offered_price_lists(day, code),
    }


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def _first_error(exc: InvalidInput) -> str:
    return "; ".join(m for ms in exc.errors.values() for m in ms)


def _deal_action(
    request: HttpRequest,
    pk: int,
    act: Callable[[Deal, dict[str, Any]], Deal | None],
    form: forms.Form | None = None,
    slot: str = "",
    done: Callable[[], str] = lambda: _("Saved."),
) -> HttpResponse:
    """Run `act` on a deal the user may change (404 if invisible, 403 if only visible) with the
    form's cleaned data. A refused form re-renders the deal with its errors in `slot` (HTTP 400;
    JSON for the board); a refusal of an action without input is a message on the deal."""
    try:
        deal = _changeable(request, pk)
    except PermissionError:
        return _forbidden(request)
    if form is None or form.is_valid():
        try:
            changed = act(deal, form.cleaned_data if form is not None else {})
        except InvalidInput as exc:
            if form is None:
                return _refused(request, deal, _first_error(exc))
            apply_invalid_input(form, exc, {})
        else:
            deal = changed or deal
            if _wants_json(request):
                return JsonResponse({"ok": True, "stage_id": deal.stage_id, "status": deal.status})
            messages.success(request, done())
            return redirect("sales:deal_detail", pk=deal.pk)
    assert form is not None
    if _wants_json(request):
        reasons = [str(e) for errors in form.errors.values() for e in errors]
        return JsonResponse(
            {"ok": False, "message": " ".join(reasons), "errors": form.errors}, status=400
        )
    deal.refresh_from_db()
    return _deal_page(request, deal, {slot: form})


def _refused(request: HttpRequest, deal: Deal, message: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"ok": False, "message": message}, status=400)
    messages.error(request, message)
    return redirect("sales:deal_detail", pk=deal.pk)


@login_required
@require_POST
def deal_move(request: HttpRequest, pk: int) -> HttpResponse:
    def act(deal: Deal, data: dict[str, Any]) -> Deal:
        return services.deal_move(actor=Actor.of(request), deal=deal, stage_id=data["stage"])

    return _deal_action(request, pk, act, DealMoveForm(request.POST), "move_form")


@login_required
@require_POST
def deal_win(request: HttpRequest, pk: int) -> HttpResponse:
    def act(deal: Deal, data: dict[str, Any]) -> Deal:
        return services.deal_win(actor=Actor.of(request), deal=deal)

    return _deal_action(request, pk, act)


@login_required
@require_POST
def deal_lose(request: HttpRequest, pk: int) -> HttpResponse:
    def act(deal: Deal, data: dict[str, Any]) -> Deal:
        return services.deal_lose(
            actor=Actor.of(request),
            deal=deal,
            loss_reason_id=data["loss_reason"],
            note=data["note"],
        )

    form = LoseForm(request.POST, reasons=LossReason.objects.filter(active=True))
    return _deal_action(request, pk, act, form, "lose_form")


@login_required
@require_POST
def deal_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    def act(deal: Deal, data: dict[str, Any]) -> Deal:
        return services.deal_reopen(actor=Actor.of(request), deal=deal)

    return _deal_action(request, pk, act)


@login_required
@require_POST
def deal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    def act(deal: Deal, data: dict[str, Any]) -> None:
        services.deal_update(actor=Actor.of(request), deal=deal, **data)

    return _deal_action(request, pk, act, DealEditForm(request.POST), "edit_form")


@login_required
@require_POST
def deal_contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    def act(deal: Deal, data: dict[str, Any]) -> None:
        services.deal_contact_set(
            actor=Actor.of(request), deal=deal, contact_id=data["contact"], role=data["role"]
        )

    form = DealContactForm(request.POST, contacts=_pickable_contacts(request))
    return _deal_action(request, pk, act, form, "contact_form")


@login_required
@require_POST
def deal_line_add(request: HttpRequest, pk: int) -> HttpResponse:
    def act(deal: Deal, data: dict[str, Any]) -> None:
        services.deal_line_add(
            actor=Actor.of(request),
            deal=deal,
            product_id=data["product"],
            price_list_id=data["price_list"],
            quantity=data["quantity"],
            discount_percent=data["discount_percent"],
        )

    deal = get_scoped(request.user, Deal, pk)
    form = DealLineForm(request.POST, **_line_pickers(deal, for_new_line=True))
    return _deal_action(
        request, pk, act, form, "line_form", done=lambda: _("Product added to the deal.")
    )


@login_required
@require_POST
def deal_line_remove(request: HttpRequest, pk: int, line_id: int) -> HttpResponse:
    def act(deal: Deal, data: dict[str, Any]) -> Deal:
        return services.deal_line_remove(actor=Actor.of(request), deal=deal, line_id=line_id)

    return _deal_action(request, pk, act, done=lambda: _("Product removed from the deal."))


# --- quotes (internal) ----------------------------------------------------------------------


@login_required
@require_POST
def quote_create(request: HttpRequest, pk: int) -> HttpResponse:
    created: list[Quote] = []

    def act(deal: Deal, data: dict[str, Any]) -> None:
        if data["use_deal_products"]:
            lines = quotes.lines_from_deal(deal, data["tax_percent"])
        else:
            fields = ("description", "quantity", "unit_price", "discount_percent", "tax_percent")
            lines = [
                {k: data[k] for k in fields}
                | {"product_id": data["product"], "price_list_id": data["price_list"]}
            ]
        created.append(
            quotes.quote_create(
                actor=Actor.of(request), deal=deal, lines=lines, valid_days=data["valid_days"]
            )
        )

    form = QuoteLineForm(request.POST, **_line_pickers(get_scoped(request.user, Deal, pk)))
    return _deal_action(
        request,
        pk,
        act,
        form,
        "quote_form",
        done=lambda: _("Quote %(number)s created.") % {"number": created[0].number},
    )


def _quote_for_change(request: HttpRequest, pk: int) -> Quote:
    quote = get_scoped(request.user, Quote, pk)
    if not scoped(request.user, Quote, "change").filter(pk=pk).exists():
        raise PermissionError
    return quote


@login_required
@require_POST
def quote_send(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        quote = _quote_for_change(request, pk)
        quotes.quote_send(actor=Actor.of(request), quote=quote)
    except PermissionError:
        return _forbidden(request)
    except InvalidInput as exc:
        messages.error(request, _first_error(exc))
    return redirect("sales:deal_detail", pk=quote.deal_id)


@login_required
@require_POST
def quote_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        quote = _quote_for_change(request, pk)
        quotes.quote_withdraw(actor=Actor.of(request), quote=quote)
    except PermissionError:
        return _forbidden(request)
    except InvalidInput as exc:
        messages.error(request, _first_error(exc))
    return redirect("sales:deal_detail", pk=quote.deal_id)


@login_required
def quote_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    quote = get_scoped(request.user, Quote, pk)
    response = HttpResponse(quotes.quote_pdf(quote), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{quote.number}.pdf"'
    return response


# --- forecast -------------------------------------------------------------------------------


@login_required
def forecast_page(request: HttpRequest) -> HttpResponse:
    org = Organisation.current()
    kind = request.GET.get("period", "quarter")
    if kind not in ("month", "quarter", "year"):
        kind = "quarter"
    try:
        day = dt.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        day = timezone.localdate()
    if not fc.EARLIEST <= day <= fc.LATEST:
        day = timezone.localdate()
    group_by = "team" if request.GET.get("group_by") == "team" else "owner"
    period = fc.period_containing(day, kind, org.fiscal_year_start_month)  # type: ignore[arg-type]
    currency = request.GET.get("currency", "").upper()[:3] or org.currency
    result = fc.forecast(
        request.user,
        period=period,
        group_by=group_by,  # type: ignore[arg-type]
        currency=currency,
    )
    shift = fc.period_shift
    return render(
        request,
        "sales/forecast.html",
        {
            **result,
            "kind": kind,
            "previous": shift(period, -1, org.fiscal_year_start_month),
            "next": shift(period, 1, org.fiscal_year_start_month),
        },
    )


# --- sequences and tasks --------------------------------------------------------------------


def _rep_only(request: HttpRequest) -> None:
    if not can(request.user, "sell"):
        raise Http404


@login_required
def sequence_list(request: HttpRequest) -> HttpResponse:
    _rep_only(request)
    form = SequenceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sequence = sequences.sequence_create(
                actor=Actor.of(request),
                name=form.cleaned_data["name"],
                steps=form.cleaned_data["steps"],
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            return redirect("sales:sequence_detail", pk=sequence.pk)
    rows = (
        scoped(request.user, Sequence)
        .annotate(
            active_count=Count(
                "flow__enrolments",
                filter=Q(flow__enrolments__status="active", flow__enrolments__is_test=False),
            )
        )
        .prefetch_related("steps")
    )
    status = 400 if request.method == "POST" else 200
    return render(
        request, "sales/sequence_list.html", {"sequences": rows, "form": form}, status=status
    )


@login_required
def sequence_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _rep_only(request)
    sequence = get_scoped(request.user, Sequence, pk)
    form = EnrolForm(request.POST or None, contacts=_pickable_contacts(request))
    forbidden = False
    if request.method == "POST" and form.is_valid():
        try:
            created = sequences.sequence_enrol(
                actor=Actor.of(request),
                sequence=sequence,
                contact_ids=form.cleaned_data["contact_ids"],
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
            forbidden = exc.code == "forbidden"
        else:
            messages.success(request, _("%(n)d contacts enrolled.") % {"n": len(created)})
            return redirect("sales:sequence_detail", pk=sequence.pk)
    may_change = scoped(request.user, Sequence, "change").filter(pk=sequence.pk).exists()
    visible = scoped(request.user, Contact).values("pk")
    enrolments = (
        sequences.sequence_enrolments(sequence)
        .filter(contact_id__in=visible)
        .select_related("contact", "version")[:500]
    )
    history = (
        scoped(request.user, Enrolment).filter(sequence=sequence).select_related("contact")[:200]
    )
    status = (403 if forbidden else 400) if request.method == "POST" else 200
    return render(
        request,
        "sales/sequence_detail.html",
        {
            "sequence": sequence,
            "steps": sequence.steps.all(),
            "enrolments": enrolments,
            "history": history,
            "form": form,
            "may_change": may_change,
            "may_view_automation": can(request.user, "view_automation"),
            "steps_form": SequenceStepsForm(
                initial={"steps": SequenceStepsForm.as_text(sequence.steps.all())}
            )
            if may_change
            else None,
        },
        status=status,
    )


@login_required
def sequence_enrolment(request: HttpRequest, pk: int, enrolment_id: int) -> HttpResponse:
    """One contact's run of a sequence: its steps, what each did and when (the viewer's time
    zone), for whoever sees the sequence and the contact; a link to the automation builder's
    page only for those who may open it (`view_automation`)."""
    _rep_only(request)
    sequence = get_scoped(request.user, Sequence, pk)
    enrolment = get_object_or_404(
        sequences.sequence_enrolments(sequence)
        .filter(contact_id__in=scoped(request.user, Contact).values("pk"))
        .select_related("contact", "version"),
        pk=enrolment_id,
    )
    return render(
        request,
        "sales/sequence_enrolment.html",
        {
            "sequence": sequence,
            "enrolment": enrolment,
            "history": sequences.sequence_enrolment_history(enrolment),
            "may_stop": enrolment.status == "active",
            "may_view_automation": can(request.user, "view_automation"),
        },
    )


@login_required
@require_POST
def sequence_steps(request: HttpRequest, pk: int) -> HttpResponse:
    """Replace a sequence's steps: a new version of its flow (running enrolments keep theirs)."""
    _rep_only(request)
    sequence = get_scoped(request.user, Sequence, pk, "change")
    form = SequenceStepsForm(request.POST)
    if form.is_valid():
        try:
            sequences.sequence_steps_update(
                actor=Actor.of(request), sequence=sequence, steps=form.cleaned_data["steps"]
            )
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            messages.success(
                request, _("Saved as a new version: running enrolments keep the steps they had.")
            )
            return redirect("sales:sequence_detail", pk=sequence.pk)
    for error in form.errors.get("steps", []):
        messages.error(request, str(error))
    return redirect("sales:sequence_detail", pk=sequence.pk)


@login_required
@require_POST
def sequence_pause(request: HttpRequest, pk: int) -> HttpResponse:
    """Pause or resume a sequence (its owner, a head of sales or an admin)."""
    _rep_only(request)
    sequence = get_scoped(request.user, Sequence, pk, "change")
    sequences.sequence_set_active(
        actor=Actor.of(request), sequence=sequence, active=not sequence.active
    )
    return redirect("sales:sequence_detail", pk=sequence.pk)


@login_required
@require_POST
def enrolment_stop(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop one contact's run of a sequence the viewer sees (a contact they see)."""
    _rep_only(request)
    enrolment = get_object_or_404(
        FlowEnrolment.objects.filter(
            flow__sequence__in=scoped(request.user, Sequence),
            contact_id__in=scoped(request.user, Contact).values("pk"),
        ),
        pk=pk,
    )
    sequences.enrolment_stop(actor=Actor.of(request), enrolment=enrolment)
    return redirect("sales:sequence_detail", pk=enrolment.flow.sequence.pk)


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    """The rep's daily list: open tasks due today or earlier (overdue first), then done today.
    A visit's follow-up is one of them (field's `FollowUp.task`), linked to its visit."""
    _rep_only(request)
    assert isinstance(request.user, User)
    today = local_today(request.user)
    mine = (
        scoped(request.user, SalesTask)
        .filter(owner=request.user)
        .select_related("contact", "deal", "field_follow_up__visit__account")
    )
    start = timezone.now() - dt.timedelta(hours=24)
    return render(
        request,
        "sales/task_list.html",
        {
            "today": today,
            "due": mine.filter(done_at__isnull=True, due_on__lte=today).order_by("due_on", "id"),
            "upcoming": mine.filter(done_at__isnull=True, due_on__gt=today).order_by("due_on")[:50],
            "done": mine.filter(done_at__gte=start).order_by("-done_at")[:50],
        },
    )


@login_required
@require_POST
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_scoped(request.user, SalesTask, pk, "change")
    sequences.task_complete(actor=Actor.of(request), task=task)
    return redirect("sales:tasks")


def deals_of_contact(user: object, contact_id: int) -> Any:
    """For other pages (a contact's detail): the deals of a contact this user may see."""
    return (
        scoped(user, Deal)
        .filter(deal_contacts__contact_id=contact_id)
        .prefetch_related(
            Prefetch("deal_contacts", queryset=DealContact.objects.filter(contact_id=contact_id))
        )
    )
