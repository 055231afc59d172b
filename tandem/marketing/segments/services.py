"""Segment writes and reads: create/update (validated, audited), static lists, live count, refresh.

Invariants:
- a dynamic segment is stored only if its definition parses and compiles (no cycles, only
  allowlisted fields and defined custom attributes);
- `segment_refresh` replaces the materialised member set and appends one `SegmentEvent` per
  contact that entered or left, in one transaction, serialised per segment by a row lock;
- counts and member lists for a user go through `scoped(user, Contact)`;
- a segment whose filter can no longer be computed (a deleted custom attribute or referenced
  segment, a database refusal) is marked broken with the reason (`broken_reason`, shown on its
  page) instead of stopping anything: `segments_refresh_all` logs it and goes on with the next
  segment, the member list shows nobody; the next successful refresh or edit clears the mark;
- a segment other segments refer to (`{"type": "segment", "segment_id": …}`) is not deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.access import scoped
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.crm.models import Contact
from tandem.marketing.models import Segment, SegmentEvent, SegmentMembership, StaticMember
from tandem.marketing.segments.compiler import Context, segment_q

log = logging.getLogger("tandem.marketing")


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
    segment.broken_reason, segment.broken_at = "", None  # it compiles again
    segment.save(
        update_fields=[
            "name",
            "definition",
            "description",
            "updated_at",
            "broken_reason",
            "broken_at",
        ]
    )
    record_change(
        actor=actor, action="update", instance=segment, changes=diff(before, snapshot(segment))
    )
    return segment


def _referenced_ids(node: Any) -> Iterator[int]:
    """Ids of the segments a stored definition refers to (any depth, whatever its shape)."""
    if isinstance(node, dict):
        if node.get("type") == "segment" and isinstance(node.get("segment_id"), int):
            yield node["segment_id"]
        for value in node.values():
            yield from _referenced_ids(value)
    elif isinstance(node, list):
        for value in node:
            yield from _referenced_ids(value)


def segments_referring_to(segment_id: int) -> list[Segment]:
    """The dynamic segments whose filter uses `segment_id` (in or not in it)."""
    candidates = Segment.objects.filter(kind=Segment.Kind.DYNAMIC).exclude(pk=segment_id)
    return [
        other
        for other in candidates.only("pk", "name", "definition").order_by("name", "pk")
        if segment_id in set(_referenced_ids(other.definition))
    ]


@transaction.atomic
def segment_delete(*, actor: Actor, segment: Segment) -> None:
    if segment.sends.exists():
        raise InvalidInput(_("This segment was used by an email send and is kept."))
    users = segments_referring_to(segment.pk)
    if users:
        names = ", ".join(f"“{other.name}”" for other in users[:5])
        raise InvalidInput(
            _(
                "Other segments use this one (%(names)s): change their filters first, "
                "then delete it."
            )
            % {"names": names + (" …" if len(users) > 5 else "")},
            code="in_use",
        )
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
    """The members this user may see; nobody for a segment that cannot be computed (it is then
    marked broken, with the reason, for its page)."""
    try:
        return scoped(user, Contact).filter(segment_q(segment))
    except InvalidInput as exc:
        segment_mark_broken(segment_id=segment.pk, reason=exc.message)
        segment.broken_reason = exc.message[:500]
        return Contact.objects.none()


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
    segment.broken_reason, segment.broken_at = "", None
    segment.save(update_fields=["refreshed_at", "member_count", "broken_reason", "broken_at"])
    return (len(entered), len(left))


def segment_mark_broken(*, segment_id: int, reason: str) -> None:
    """Record why the segment cannot be computed (kept since its first failure)."""
    reason = reason.strip()[:500] or _("The filter cannot be computed.")
    Segment.objects.filter(pk=segment_id).exclude(broken_reason=reason).update(
        broken_reason=reason, broken_at=timezone.now()
    )


def segment_refresh_or_mark(*, segment_id: int) -> tuple[int, int] | None:
    """`segment_refresh`, but a segment that cannot be computed is marked broken (and logged)
    instead of raising; returns None for it."""
    try:
        return segment_refresh(segment_id=segment_id)
    except InvalidInput as exc:
        reason = exc.message
    except DatabaseError as exc:  # e.g. a value the database refuses; the refresh rolled back
        first = (str(exc).strip().splitlines() or [""])[0]
        reason = _("The database refused the filter: %(error)s") % {"error": first[:300]}
    log.warning("segment %s cannot be refreshed: %s", segment_id, reason)
    segment_mark_broken(segment_id=segment_id, reason=reason)
    return None


def segments_refresh_all() -> dict[str, int]:
    """Refresh every segment, one transaction each; a broken one is marked and skipped."""
    ids = list(Segment.objects.order_by("pk").values_list("pk", flat=True))
    broken = sum(1 for pk in ids if segment_refresh_or_mark(segment_id=pk) is None)
    return {"refreshed": len(ids) - broken, "broken": broken}


def segment_events_after(*, after_id: int, limit: int = 1000) -> list[SegmentEvent]:
    """Entered/left events after a cursor, oldest first: what automation reads."""
    return list(SegmentEvent.objects.filter(pk__gt=after_id).order_by("pk")[:limit])
