"""The voice of the customer: themes (objections, pain points, competitors, feature requests)
tagged on what buyers said — call and meeting notes, visit reports, lost-deal reasons, dispute
threads and marketers' insight notes.

Invariants:
- suggestions come from each theme's keywords, matched on word stems in English and Russian
  (the library search's `stem`), and are stored `suggested`; only a person's decision makes a
  tag `confirmed` (or `rejected`), and only confirmed tags count anywhere;
- one tag per (theme, source): scanning again never duplicates (unique constraint, conflicts
  ignored);
- every decision and every theme change writes an audit entry in its transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.crm.models import Touchpoint
from tandem.enablement.models import (
    InsightNote,
    SourceKind,
    TagStatus,
    Theme,
    ThemeKind,
    VocTag,
)
from tandem.enablement.stemming import stems
from tandem.field.models import Visit
from tandem.leads.models import DisputeMessage
from tandem.sales.models import Deal, DealStatus

NOTE_KINDS = ("call", "meeting", "note", "email_logged")


def theme_keywords(theme: Theme) -> list[tuple[str, ...]]:
    """Each keyword (or phrase) as a tuple of stems."""
    out = []
    for raw in theme.keywords.split(","):
        words = tuple(stems(raw))
        if words:
            out.append(words)
    return out


def suggest(text: str, themes: list[Theme]) -> list[Theme]:
    """The themes whose keywords occur in the text (a phrase: its stems in a row)."""
    words = stems(text)
    found = []
    for theme in themes:
        for phrase in theme_keywords(theme):
            n = len(phrase)
            if any(tuple(words[i : i + n]) == phrase for i in range(len(words) - n + 1)):
                found.append(theme)
                break
    return found


@transaction.atomic
def theme_save(
    *, actor: Actor, theme: Theme | None = None, kind: str, name: str, keywords: str
) -> Theme:
    if kind not in ThemeKind.values:
        raise InvalidInput({"kind": [_("Choose a kind of theme.")]})
    if not name.strip():
        raise InvalidInput({"name": [_("A theme needs a name.")]})
    clash = Theme.objects.filter(name=name.strip()[:120])
    if theme is not None:
        clash = clash.exclude(pk=theme.pk)
    if clash.exists():
        raise InvalidInput({"name": [_("A theme with this name exists.")]})
    before = snapshot(theme) if theme else {}
    target = theme or Theme()
    target.kind, target.name, target.keywords = kind, name.strip()[:120], keywords[:1000]
    target.save()
    record_change(
        actor=actor,
        action="update" if theme else "create",
        instance=target,
        changes=diff(before, snapshot(target)),
    )
    return target


@transaction.atomic
def theme_answer(*, actor: Actor, theme: Theme, asset_ids: list[int]) -> Theme:
    """The assets that answer the theme (replaces the set)."""
    before = sorted(theme.answers.values_list("pk", flat=True))
    theme.answers.set(asset_ids)
    after = sorted(theme.answers.values_list("pk", flat=True))
    if before != after:
        record_change(
            actor=actor, action="update", instance=theme, changes={"answers": [before, after]}
        )
    return theme


@dataclass(frozen=True)
class Said:
    kind: str
    id: int
    account_id: int | None
    text: str
    at: dt.datetime


def sources_since(since: dt.datetime) -> list[Said]:
    """What buyers said since a moment, from every source the voice of the customer reads."""
    out: list[Said] = []
    for tp in (
        Touchpoint.objects.filter(occurred_at__gte=since, properties__has_key="note")
        .values("pk", "kind", "account_id", "properties", "occurred_at")
        .iterator()
    ):
        note = str((tp["properties"] or {}).get("note", ""))
        kind = SourceKind.VISIT if tp["kind"] == "field_visit" else SourceKind.NOTE
        if note:
            out.append(Said(kind, tp["pk"], tp["account_id"], note, tp["occurred_at"]))
    # field visit reports (tandem.field): the report's notes, by the visit's touchpoint
    reports = Visit.objects.filter(check_out_at__gte=since, touchpoint__isnull=False).exclude(
        notes=""
    )
    for touchpoint_id, account_id, notes, at in reports.values_list(
        "touchpoint_id", "account_id", "notes", "check_out_at"
    ):
        if touchpoint_id is not None and at is not None:
            out.append(Said(SourceKind.VISIT, touchpoint_id, account_id, notes, at))
    lost = Deal.objects.filter(status=DealStatus.LOST, closed_at__gte=since)
    for pk, account_id, loss_note, reason, closed_at in lost.values_list(
        "pk", "account_id", "loss_note", "loss_reason__name", "closed_at"
    ):
        text = " ".join(filter(None, [reason, loss_note]))
        if text and closed_at is not None:
            out.append(Said(SourceKind.LOSS, pk, account_id, text, closed_at))
    messages = DisputeMessage.objects.filter(created_at__gte=since)
    for pk, body, at in messages.values_list("pk", "body", "created_at"):
        out.append(Said(SourceKind.DISPUTE, pk, None, body, at))
    insights = InsightNote.objects.filter(created_at__gte=since)
    for pk, account_id, text, at in insights.values_list("pk", "account_id", "text", "created_at"):
        out.append(Said(SourceKind.INSIGHT, pk, account_id, text, at))
    return out


def tags_suggest(*, since: dt.datetime) -> int:
    """Store suggestions for everything said since `since`; returns how many are new."""
    themes = list(Theme.objects.all())
    rows: list[VocTag] = []
    for said in sources_since(since):
        for theme in suggest(said.text, themes):
            rows.append(
                VocTag(
                    theme=theme,
                    source_kind=said.kind,
                    source_id=said.id,
                    account_id=said.account_id,
                    excerpt=said.text[:300],
                    said_at=said.at,
                    status=TagStatus.SUGGESTED,
                )
            )
    before = VocTag.objects.count()
    VocTag.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return VocTag.objects.count() - before


@transaction.atomic
def tag_decide(*, actor: Actor, tag: VocTag, confirm: bool) -> VocTag:
    """A person confirms or rejects a tag (suggested, or a decision changed)."""
    if actor.user is None:
        raise InvalidInput(_("Only a person can confirm a tag."))
    status = TagStatus.CONFIRMED if confirm else TagStatus.REJECTED
    before = snapshot(tag, ["status"])
    VocTag.objects.filter(pk=tag.pk).update(
        status=status, decided_by=actor.user, decided_at=timezone.now()
    )
    tag.status = status
    record_change(
        actor=actor, action="update", instance=tag, changes=diff(before, {"status": str(status)})
    )
    return tag


@transaction.atomic
def tag_add(*, actor: Actor, theme: Theme, source: Said) -> VocTag:
    """A person tags a source by hand (confirmed at once)."""
    tag, _created = VocTag.objects.update_or_create(
        theme=theme,
        source_kind=source.kind,
        source_id=source.id,
        defaults={
            "account_id": source.account_id,
            "excerpt": source.text[:300],
            "said_at": source.at,
            "status": TagStatus.CONFIRMED,
            "decided_by": actor.user,
            "decided_at": timezone.now(),
        },
    )
    record_change(actor=actor, action="create", instance=tag, changes=diff({}, snapshot(tag)))
    return tag


def source_of(kind: str, source_id: int) -> Said | None:
    """One source by its kind and id (for tagging by hand)."""
    rows = _one_source(kind, source_id)
    return rows[0] if rows else None


def _one_source(kind: str, pk: int) -> list[Said]:
    found: list[Said] = []
    if kind in (SourceKind.NOTE, SourceKind.VISIT):
        tp = (
            Touchpoint.objects.filter(pk=pk)
            .values("pk", "account_id", "properties", "occurred_at")
            .first()
        )
        report = Visit.objects.filter(touchpoint_id=pk).exclude(notes="").first()
        if tp and (tp["properties"] or {}).get("note"):
            found.append(
                Said(kind, pk, tp["account_id"], str(tp["properties"]["note"]), tp["occurred_at"])
            )
        elif report is not None and report.check_out_at is not None:
            found.append(Said(kind, pk, report.account_id, report.notes, report.check_out_at))
    elif kind == SourceKind.LOSS:
        deal = Deal.objects.filter(pk=pk, status=DealStatus.LOST).first()
        if deal:
            text = deal.loss_note or (deal.loss_reason.name if deal.loss_reason else "")
            found.append(Said(kind, pk, deal.account_id, text, deal.closed_at or deal.updated_at))
    elif kind == SourceKind.DISPUTE:
        msg = DisputeMessage.objects.filter(pk=pk).first()
        if msg:
            found.append(Said(kind, pk, None, msg.body, msg.created_at))
    elif kind == SourceKind.INSIGHT:
        note = InsightNote.objects.filter(pk=pk).first()
        if note:
            found.append(Said(kind, pk, note.account_id, note.text, note.created_at))
    return found


def source_kinds() -> list[Any]:
    return list(SourceKind.choices)
