"""Voice-of-the-customer pages: themes ranked by frequency or revenue at stake with the rising
alert and the assets that answer them, the inbox of suggested tags a person confirms, a
theme's conversations, and joint touches with insight notes. Thin: form, service, render."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tandem.core.access import can, get_scoped, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.forms import apply_invalid_input
from tandem.crm.models import Account
from tandem.enablement import joint, selectors, voc
from tandem.enablement.forms import (
    AnswerForm,
    DecideForm,
    InsightForm,
    JointAnswerForm,
    JointRequestForm,
    TagForm,
    ThemeForm,
)
from tandem.enablement.models import (
    Asset,
    InsightNote,
    JointTouch,
    SourceKind,
    TagStatus,
    Theme,
    VocTag,
)
from tandem.leads.models import DisputeMessage

SCAN_DAYS = 90


def _with_urls(tags: list[VocTag]) -> list[tuple[VocTag, str]]:
    """Each tag with where its conversation is (one query for the disputes of all)."""
    messages_ids = [t.source_id for t in tags if t.source_kind == SourceKind.DISPUTE]
    disputes = dict(
        DisputeMessage.objects.filter(pk__in=messages_ids).values_list("pk", "dispute_id")
    )
    return [(t, source_url(t, disputes)) for t in tags]


def source_url(tag: VocTag, disputes: dict[int, int]) -> str:
    """Where the conversation is: the account (notes, visits, insights), the deal, the dispute."""
    if tag.source_kind == SourceKind.LOSS:
        return reverse("sales:deal_detail", args=[tag.source_id])
    if tag.source_kind == SourceKind.DISPUTE:
        found = disputes.get(tag.source_id)
        return reverse("leads:dispute_detail", args=[found]) if found else ""
    if tag.account_id:
        return reverse("crm:account_detail", args=[tag.account_id])
    return ""


@login_required
def voice(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "read_content"):
        raise PermissionDenied
    user = request_user(request)
    by = "revenue" if request.GET.get("by") == "revenue" else "count"
    rows = selectors.themes_ranked(user, by=by)
    suggested = list(
        scoped(user, VocTag)
        .filter(status=TagStatus.SUGGESTED)
        .select_related("theme", "account")[:100]
    )
    return render(
        request,
        "enablement/voice.html",
        {
            "rows": rows,
            "by": by,
            "suggested": _with_urls(suggested),
            "theme_form": ThemeForm(),
            "can_manage": can(user, "manage_collateral"),
            "unanswered": [r for r in rows if r.count and not r.answered],
        },
    )


@login_required
@require_POST
def voice_scan(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "manage_collateral"):
        raise PermissionDenied
    new = voc.tags_suggest(since=timezone.now() - dt.timedelta(days=SCAN_DAYS))
    messages.success(request, _("%(n)s new suggestions.") % {"n": new})
    return redirect("enablement:voice")


@login_required
@require_POST
def theme_create(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "manage_collateral"):
        raise PermissionDenied
    form = ThemeForm(request.POST)
    if form.is_valid():
        try:
            theme = voc.theme_save(actor=Actor.of(request), **form.cleaned_data)
        except InvalidInput as exc:
            apply_invalid_input(form, exc, {})
        else:
            return redirect("enablement:theme_detail", pk=theme.pk)
    return render(request, "enablement/theme_new.html", {"form": form}, status=400)


@login_required
def theme_detail(request: HttpRequest, pk: int) -> HttpResponse:
    theme = get_scoped(request.user, Theme, pk)
    user = request_user(request)
    assets = [(a.pk, a.title) for a in scoped(user, Asset).filter(archived=False)[:300]]
    form = AnswerForm(
        request.POST or None,
        assets=assets,
        initial={"asset_ids": list(theme.answers.values_list("pk", flat=True))},
    )
    edit = ThemeForm(
        request.POST or None if "name" in request.POST else None,
        initial={"kind": theme.kind, "name": theme.name, "keywords": theme.keywords},
    )
    if request.method == "POST":
        if not can(user, "manage_collateral"):
            raise PermissionDenied
        try:
            if "name" in request.POST and edit.is_valid():
                voc.theme_save(actor=Actor.of(request), theme=theme, **edit.cleaned_data)
                return redirect("enablement:theme_detail", pk=theme.pk)
            if "name" not in request.POST and form.is_valid():
                voc.theme_answer(
                    actor=Actor.of(request), theme=theme, asset_ids=form.cleaned_data["asset_ids"]
                )
                messages.success(request, _("Saved."))
                return redirect("enablement:theme_detail", pk=theme.pk)
        except InvalidInput as exc:
            apply_invalid_input(edit, exc, {})
    tags = scoped(user, VocTag).filter(theme=theme).exclude(status=TagStatus.REJECTED)
    return render(
        request,
        "enablement/theme.html",
        {
            "theme": theme,
            "form": form,
            "edit": edit,
            "tags": _with_urls(list(tags.select_related("account")[:200])),
            "can_manage": can(user, "manage_collateral"),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def tag_decide(request: HttpRequest, pk: int) -> HttpResponse:
    tag = get_scoped(request.user, VocTag, pk)
    form = DecideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Confirm or reject."))
    else:
        voc.tag_decide(
            actor=Actor.of(request), tag=tag, confirm=form.cleaned_data["decision"] == "confirm"
        )
    return redirect(
        (
            request.POST.get("next") == "theme"
            and reverse("enablement:theme_detail", args=[tag.theme_id])
        )
        or reverse("enablement:voice")
    )


@login_required
@require_POST
def tag_add(request: HttpRequest) -> HttpResponse:
    form = TagForm(request.POST)
    if form.is_valid():
        theme = get_scoped(request.user, Theme, form.cleaned_data["theme_id"])
        source = voc.source_of(form.cleaned_data["source_kind"], form.cleaned_data["source_id"])
        if source is None:
            messages.error(request, _("No such conversation."))
        else:
            voc.tag_add(actor=Actor.of(request), theme=theme, source=source)
            messages.success(request, _("Tagged."))
        return redirect("enablement:theme_detail", pk=theme.pk)
    messages.error(request, _("Choose a theme and a conversation."))
    return redirect("enablement:voice")


# --- joint touches and insight notes -----------------------------------------------------------


@login_required
def joint_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = JointRequestForm(request.POST or None)
    if request.method == "POST":
        if not can(user, "join_sales_meetings"):
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            account = (
                scoped(user, Account).filter(pk=data["account_id"]).select_related("owner").first()
            )
            if account is None or account.owner is None:
                form.add_error("account_id", _("No such account with an owner."))
            else:
                try:
                    joint.joint_request(
                        actor=Actor.of(request),
                        account=account,
                        rep=account.owner,
                        kind=data["kind"],
                        planned_at=data["planned_at"],
                        purpose=data["purpose"],
                    )
                except InvalidInput as exc:
                    apply_invalid_input(form, exc, {})
                else:
                    messages.success(request, _("Asked the rep; you will be told the answer."))
                    return redirect("enablement:joint_list")
    rows = scoped(user, JointTouch).select_related("marketer", "rep", "account")[:200]
    notes = scoped(user, InsightNote).select_related("account", "author")[:50]
    return render(
        request,
        "enablement/joint.html",
        {
            "rows": rows,
            "notes": notes,
            "form": form,
            "insight_form": InsightForm(),
            "answer_form": JointAnswerForm(),
            "can_join": can(user, "join_sales_meetings"),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def joint_answer(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_scoped(request.user, JointTouch, pk)
    form = JointAnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose an answer."))
        return redirect("enablement:joint_list")
    answer = form.cleaned_data["answer"]
    try:
        if answer == "done":
            joint.joint_done(actor=Actor.of(request), joint=item, note=form.cleaned_data["note"])
        else:
            joint.joint_answer(actor=Actor.of(request), joint=item, accept=answer == "accept")
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Saved."))
    return redirect("enablement:joint_list")


@login_required
@require_POST
def insight_add(request: HttpRequest) -> HttpResponse:
    form = InsightForm(request.POST)
    if form.is_valid():
        account = get_scoped(request.user, Account, form.cleaned_data["account_id"])
        try:
            joint.insight_add(
                actor=Actor.of(request), account=account, text=form.cleaned_data["text"]
            )
        except InvalidInput as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Insight saved on the account."))
    else:
        messages.error(request, _("Give the account and what you learned."))
    return redirect("enablement:joint_list")
