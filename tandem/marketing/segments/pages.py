"""Segment page additions: static list members (add by ids/emails or from the contact list's
filter, remove selected) and reactions (sequence enrolment, webhooks). Thin: parse, call
`segments.members` / `segments.reactions`, redirect or render.

Only marketers, the head and admins reach them (others: 404, like every marketing page); every
contact they touch is one they may see.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from tandem.core.access import get_scoped, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.crm import selectors as crm_selectors
from tandem.crm.models import Contact
from tandem.marketing.models import ReactionDelivery, Segment, SegmentReaction
from tandem.marketing.scopes import marketer
from tandem.marketing.segments import members, reactions
from tandem.marketing.segments.forms import AddFilteredForm, MembersForm, ReactionForm
from tandem.marketing.validation import form_errors
from tandem.sales.models import Sequence

FILTER_KEYS = ("q", "owner", "lifecycle_stage", "industry", "consent", "tag")


def detail_extras(user: User, segment: Segment) -> dict[str, Any]:
    """What the segment page's member and reaction sections show."""
    return {
        "reactions": list(
            scoped(user, SegmentReaction)
            .filter(segment=segment)
            .select_related("sequence")
            .order_by("pk")
        ),
        "deliveries": list(
            scoped(user, ReactionDelivery)
            .filter(reaction__segment=segment)
            .select_related("event", "reaction")
            .order_by("-pk")[:20]
        ),
        "sequences": list(scoped(user, Sequence).filter(active=True).order_by("name", "pk")[:200]),
        "max_ids": members.MAX_IDS,
    }


def _changed(request: HttpRequest, change: members.MemberChange, added: bool) -> None:
    if added:
        text = ngettext("%(n)d contact added", "%(n)d contacts added", change.changed)
    else:
        text = ngettext("%(n)d contact removed", "%(n)d contacts removed", change.changed)
    text = text % {"n": change.changed}
    if change.unchanged:
        text += " · " + (
            _("%(n)d already on the list") if added else _("%(n)d were not on the list")
        ) % {"n": change.unchanged}
    messages.success(request, text)


@login_required
@require_POST
def members_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    segment = get_scoped(user, Segment, pk, "change")
    form = MembersForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(form_errors(form))
        ids: list[Any] = members.ids_from_text(user, form.cleaned_data["contacts"])
        ids += form.cleaned_data["contact_ids"]
        change = members.members_add(actor=Actor.of(request), segment=segment, contact_ids=ids)
        _changed(request, change, added=True)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("marketing:segment_detail", pk=segment.pk)


@login_required
@require_POST
def members_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    segment = get_scoped(user, Segment, pk, "change")
    form = MembersForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(form_errors(form))
        change = members.members_remove(
            actor=Actor.of(request), segment=segment, contact_ids=form.cleaned_data["contact_ids"]
        )
        _changed(request, change, added=False)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("marketing:segment_detail", pk=segment.pk)


def _list_query(cleaned: dict[str, Any]) -> crm_selectors.ListQuery:
    return crm_selectors.ListQuery(
        q=cleaned.get("q") or "",
        owner_id=cleaned.get("owner"),
        lifecycle_stage=cleaned.get("lifecycle_stage") or "",
        industry=cleaned.get("industry") or "",
        consent=cleaned.get("consent") or "",
        tag=cleaned.get("tag") or "",
    )


@login_required
def add_filtered(request: HttpRequest) -> HttpResponse:
    """From the contact list: add the contacts its current filter shows (or the ids ticked there)
    to a static list. GET shows how many and asks which list; POST adds them."""
    user = marketer(request)
    params = request.POST if request.method == "POST" else request.GET
    form = AddFilteredForm(params)
    valid = form.is_valid()
    cleaned = form.cleaned_data
    picked = [str(pk) for pk in cleaned.get("contact_ids") or []]
    contacts = crm_selectors.contacts_filtered(user, _list_query(cleaned))
    if picked:
        contacts = scoped(user, Contact).filter(pk__in=cleaned["contact_ids"])
    count = contacts.count()
    lists = list(members.static_lists(user))
    errors: dict[str, list[str]] = {} if valid else form_errors(form)
    if request.method == "POST" and valid:
        try:
            if cleaned.get("segment") is None:
                raise InvalidInput({"segment": [_("Choose a static list.")]})
            segment = get_scoped(user, Segment, cleaned["segment"], "change")
            if count > members.MAX_IDS:
                raise InvalidInput(
                    {
                        "contact_ids": [
                            _("%(count)s contacts match: at most %(n)s at a time.")
                            % {"count": f"{count:,}", "n": f"{members.MAX_IDS:,}"}
                        ]
                    }
                )
            ids = list(contacts.values_list("pk", flat=True)[: members.MAX_IDS])
            change = members.members_add(actor=Actor.of(request), segment=segment, contact_ids=ids)
            _changed(request, change, added=True)
            return redirect("marketing:segment_detail", pk=segment.pk)
        except InvalidInput as exc:
            errors = exc.errors
    filters = {k: cleaned[k] for k in FILTER_KEYS if cleaned.get(k)}
    return render(
        request,
        "marketing/segments/add_contacts.html",
        {
            "count": count,
            "lists": lists,
            "filters": filters,
            "picked": picked,
            "errors": errors,
            "max_ids": members.MAX_IDS,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def reaction_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = marketer(request)
    segment = get_scoped(user, Segment, pk, "change")
    form = ReactionForm(request.POST)
    try:
        if not form.is_valid():
            raise InvalidInput(form_errors(form))
        kind = form.cleaned_data["kind"]
        sequence = None
        if kind == SegmentReaction.Kind.SEQUENCE and form.cleaned_data["sequence"] is not None:
            sequence = get_scoped(user, Sequence, form.cleaned_data["sequence"])
        created = reactions.reaction_create(
            actor=Actor.of(request),
            segment=segment,
            kind=kind,
            on_entered=form.cleaned_data["on_entered"],
            on_left=form.cleaned_data["on_left"],
            sequence=sequence,
            url=form.cleaned_data["url"],
        )
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("marketing:segment_detail", pk=segment.pk)
    if created.secret:
        return _secret_page(request, segment, created.reaction, created.secret)
    messages.success(request, _("Reaction added."))
    return redirect("marketing:segment_detail", pk=segment.pk)


def _secret_page(
    request: HttpRequest, segment: Segment, reaction: SegmentReaction, secret: str
) -> HttpResponse:
    response = render(
        request,
        "marketing/segments/webhook_secret.html",
        {"segment": segment, "reaction": reaction, "secret": secret},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def reaction_action(request: HttpRequest, pk: int, reaction_id: int, action: str) -> HttpResponse:
    """pause, resume, rotate (a new webhook secret, shown once) or delete."""
    user = marketer(request)
    segment = get_scoped(user, Segment, pk, "change")
    reaction = get_scoped(user, SegmentReaction, reaction_id, "change")
    if reaction.segment_id != segment.pk:
        raise Http404
    actor = Actor(user=user)
    try:
        if action in ("pause", "resume"):
            reactions.reaction_set_active(actor=actor, reaction=reaction, active=action == "resume")
        elif action == "rotate":
            secret = reactions.reaction_rotate_secret(actor=actor, reaction=reaction)
            return _secret_page(request, segment, reaction, secret)
        elif action == "delete":
            reactions.reaction_delete(actor=actor, reaction=reaction)
        else:
            raise Http404
        messages.success(request, _("Reaction updated."))
    except InvalidInput as exc:
        messages.error(request, exc.message)
    return redirect("marketing:segment_detail", pk=segment.pk)
