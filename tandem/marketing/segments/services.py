"""Segment writes and reads: create/update (validated, audited), static lists, live count, refresh.

Invariants:
- a dynamic segment is stored only if its definition parses and compiles (no cycles, only
  allowlisted fields and defined custom attributes);
- `segment_refresh` replaces the materialised member set and appends one `SegmentEvent` per
  contact that entered or left, in one transaction, serialised per segment by a row lock;
- counts and member lists for a user go through `scoped(user, Contact)`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.access import scoped
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact
from tandem.marketing.models import Segment, SegmentEvent, SegmentMembership, StaticMember
from tandem.marketing.segments.compiler import Context, segment_q


def _clean(name: str, kind: str, definition: Any) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("This field is required.")]
    elif len(name) > 200:
        errors["name"] = [_("At most %(n)d characters.") % {"n": 200}]
    if kind not in Segment.Kind.values:
        errors["kind"] = [_("Choose dynamic or static.")]
    if errors:
        raise InvalidInput(errors)
    return {"name": name, "kind": kind, "definition": definition if kind == "dynamic" else {}}


def _check_compiles(segment: Segment) -> None:
    """Compile once to validate (allowlist, custom attributes, cycles) without running it."""
    segment_q(segment, Context())


@transaction.atomic
def segment_create(
    *, actor: Actor, name: str, kind: str = "dynamic", definition: Any = None, description: str = ""
) -> Segment:
    data = _clean(name, kind, definition)
    segment = Segment(**data, description=description[:500], created_by=actor.user)
    segment.save()
    _check_compiles(segment)
    record_change(actor=actor, action="create", instance=segment, changes=snapshot(segment))
    return segment


@transaction.atomic
def segment_update(
    *, actor: Actor, segment: Segment, name: str, definition: Any = None, description: str = ""
) -> Segment:
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    before = snapshot(segment)
    data = _clean(name, segment.kind, definition)
    segment.name = data["name"]
    segment.definition = data["definition"]
    segment.description = description[:500]
    _check_compiles(segment)
    segment.save(update_fields=["name", "definition", "description", "updated_at"])
    record_change(
        actor=actor, action="update", instance=segment, changes=diff(before, snapshot(segment))
    )
    return segment


@transaction.atomic
def segment_delete(*, actor: Actor, segment: Segment) -> None:
    if segment.sends.exists():
        raise InvalidInput(_("This segment was used by an email send and is kept."))
    record_change(actor=actor, action="delete", instance=segment, changes=snapshot(segment))
    segment.delete()


@transaction.atomic
def static_members_add(*, actor: Actor, segment: Segment, contact_ids: list[int]) -> int:
    """Add contacts to a static list (idempotent); returns how many were new."""
    if segment.kind != Segment.Kind.STATIC:
        raise InvalidInput(_("Only static lists have members added by hand."))
    known = set(Contact.objects.filter(pk__in=contact_ids).values_list("pk", flat=True))
    before = StaticMember.objects.filter(segment=segment).count()
    StaticMember.objects.bulk_create(
        [StaticMember(segment=segment, contact_id=pk) for pk in sorted(known)],
        ignore_conflicts=True,
    )
    added = StaticMember.objects.filter(segment=segment).count() - before
    record_change(
        actor=actor, action="update", instance=segment, changes={"added_contacts": sorted(known)}
    )
    return added


@transaction.atomic
def static_members_remove(*, actor: Actor, segment: Segment, contact_ids: list[int]) -> int:
    removed, _detail = StaticMember.objects.filter(
        segment=segment, contact_id__in=contact_ids
    ).delete()
    record_change(
        actor=actor,
        action="update",
        instance=segment,
        changes={"removed_contacts": sorted(contact_ids)},
    )
    return removed


def segment_members(segment: Segment) -> QuerySet[Contact]:
    """Every member right now (system view: the refresh task, sends)."""
    return Contact.objects.filter(segment_q(segment))


def segment_members_for(user: object, segment: Segment) -> QuerySet[Contact]:
    """The members this user may see."""
    return scoped(user, Contact).filter(segment_q(segment))


def definition_count(*, user: object, definition: Any, segment_id: int | None = None) -> int:
    """Live count while editing: validates the definition and counts visible matches."""
    draft = Segment(pk=segment_id, kind=Segment.Kind.DYNAMIC, definition=definition)
    return scoped(user, Contact).filter(segment_q(draft)).count()


@transaction.atomic
def segment_refresh(*, segment_id: int) -> tuple[int, int]:
    """Bring the materialised member set up to date; returns (entered, left)."""
    segment = Segment.objects.select_for_update().filter(pk=segment_id).first()
    if segment is None:
        return (0, 0)
    now = timezone.now()
    current = set(segment_members(segment).values_list("pk", flat=True))
    stored = set(
        SegmentMembership.objects.filter(segment=segment).values_list("contact_id", flat=True)
    )
    entered = sorted(current - stored)
    left = sorted(stored - current)
    if left:
        SegmentMembership.objects.filter(segment=segment, contact_id__in=left).delete()
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, contact_id=pk, entered_at=now) for pk in entered],
        batch_size=2000,
    )
    SegmentEvent.objects.bulk_create(
        [SegmentEvent(segment=segment, contact_id=pk, kind="entered", at=now) for pk in entered]
        + [SegmentEvent(segment=segment, contact_id=pk, kind="left", at=now) for pk in left],
        batch_size=2000,
    )
    segment.refreshed_at = now
    segment.member_count = len(current)
    segment.save(update_fields=["refreshed_at", "member_count"])
    return (len(entered), len(left))


def segment_events_after(*, after_id: int, limit: int = 1000) -> list[SegmentEvent]:
    """Entered/left events after a cursor, oldest first: what automation reads."""
    return list(SegmentEvent.objects.filter(pk__gt=after_id).order_by("pk")[:limit])
