"""Static lists: add and remove members by hand (pages, the contact list's filter, the API).

Invariants:
- only static lists take members by hand; at most MAX_IDS contacts per call;
- only contacts the actor may see (`scoped(user, Contact)`): an invisible or unknown id refuses
  the whole call (`ContactsNotVisible`) and nothing is written;
- entering and leaving a static list is recorded like a dynamic segment's refresh: the
  `SegmentMembership` row and a `SegmentEvent` (entered/left) are written with the
  `StaticMember` row, in one transaction, under the segment's row lock (the one
  `segment_refresh` takes), so a refresh finds nothing to change and automation sees the event;
- each call writes one audit entry on the segment (the ids added or removed), and enqueues the
  segment's reactions after commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.access import scoped
from tandem.core.audit import Actor, record_change
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.core.tasks import enqueue_on_commit
from tandem.crm.models import Contact
from tandem.marketing.models import (
    Segment,
    SegmentEvent,
    SegmentMembership,
    SegmentReaction,
    StaticMember,
)

MAX_IDS = 10_000


class ContactsNotVisible(InvalidInput):
    """Some ids are not contacts the actor may see (the API answers 404)."""

    def __init__(self, missing: list[int]) -> None:
        self.missing = missing
        shown = ", ".join(str(i) for i in missing[:20]) + ("…" if len(missing) > 20 else "")
        super().__init__({"contact_ids": [_("No such contact: %(ids)s") % {"ids": shown}]})


@dataclass
class MemberChange:
    changed: int  # added or removed now
    unchanged: int  # already members (add) or not members (remove)


def clean_ids(raw: Iterable[object]) -> list[int]:
    """Positive integer ids, de-duplicated, at most MAX_IDS; InvalidInput otherwise."""
    ids: set[int] = set()
    bad: list[str] = []
    for value in raw:
        if isinstance(value, bool):
            bad.append(str(value))
            continue
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.strip().isdigit():
            number = int(value.strip())
        else:
            bad.append(str(value)[:30])
            continue
        if number <= 0 or number > 2**63 - 1:
            bad.append(str(value)[:30])
            continue
        ids.add(number)
    if bad:
        raise InvalidInput(
            {"contact_ids": [_("Not a contact id: %(v)s") % {"v": ", ".join(bad[:10])}]}
        )
    if not ids:
        raise InvalidInput({"contact_ids": [_("Give at least one contact id.")]})
    if len(ids) > MAX_IDS:
        raise InvalidInput(
            {"contact_ids": [_("At most %(n)s contacts per call.") % {"n": f"{MAX_IDS:,}"}]}
        )
    return sorted(ids)


def _check(actor: Actor, segment: Segment, ids: list[int]) -> Segment:
    if segment.kind != Segment.Kind.STATIC:
        raise InvalidInput(_("Only static lists have members added or removed by hand."))
    if actor.user is not None:
        visible = set(scoped(actor.user, Contact).filter(pk__in=ids).values_list("pk", flat=True))
    else:
        visible = set(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in visible]
    if missing:
        raise ContactsNotVisible(missing)
    return Segment.objects.select_for_update().get(pk=segment.pk)


def _after_change(actor: Actor, segment: Segment, key: str, ids: list[int]) -> None:
    segment.member_count = StaticMember.objects.filter(segment=segment).count()
    segment.refreshed_at = timezone.now()
    segment.save(update_fields=["member_count", "refreshed_at"])
    record_change(actor=actor, action="update", instance=segment, changes={key: ids})
    if ids and SegmentReaction.objects.filter(segment=segment, active=True).exists():
        from tandem.marketing.segments import tasks as segment_tasks

        enqueue_on_commit(segment_tasks.segment_reactions_dispatch, segment.pk)


@transaction.atomic
def members_add(*, actor: Actor, segment: Segment, contact_ids: Iterable[object]) -> MemberChange:
    ids = clean_ids(contact_ids)
    segment = _check(actor, segment, ids)
    present = set(
        StaticMember.objects.filter(segment=segment, contact_id__in=ids).values_list(
            "contact_id", flat=True
        )
    )
    new = [i for i in ids if i not in present]
    now = timezone.now()
    StaticMember.objects.bulk_create(
        [StaticMember(segment=segment, contact_id=i, added_at=now) for i in new], batch_size=2000
    )
    already = set(
        SegmentMembership.objects.filter(segment=segment, contact_id__in=new).values_list(
            "contact_id", flat=True
        )
    )
    entering = [i for i in new if i not in already]
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, contact_id=i, entered_at=now) for i in entering],
        batch_size=2000,
    )
    SegmentEvent.objects.bulk_create(
        [SegmentEvent(segment=segment, contact_id=i, kind="entered", at=now) for i in entering],
        batch_size=2000,
    )
    _after_change(actor, segment, "added_contacts", new)
    return MemberChange(changed=len(new), unchanged=len(ids) - len(new))


@transaction.atomic
def members_remove(
    *, actor: Actor, segment: Segment, contact_ids: Iterable[object]
) -> MemberChange:
    ids = clean_ids(contact_ids)
    segment = _check(actor, segment, ids)
    present = sorted(
        StaticMember.objects.filter(segment=segment, contact_id__in=ids).values_list(
            "contact_id", flat=True
        )
    )
    StaticMember.objects.filter(segment=segment, contact_id__in=present).delete()
    leaving = sorted(
        SegmentMembership.objects.filter(segment=segment, contact_id__in=present).values_list(
            "contact_id", flat=True
        )
    )
    SegmentMembership.objects.filter(segment=segment, contact_id__in=leaving).delete()
    now = timezone.now()
    SegmentEvent.objects.bulk_create(
        [SegmentEvent(segment=segment, contact_id=i, kind="left", at=now) for i in leaving],
        batch_size=2000,
    )
    _after_change(actor, segment, "removed_contacts", present)
    return MemberChange(changed=len(present), unchanged=len(ids) - len(present))


def static_lists(user: User) -> QuerySet[Segment]:
    return scoped(user, Segment).filter(kind=Segment.Kind.STATIC).order_by("name", "id")


def ids_from_text(user: User, text: str) -> list[object]:
    """Contact ids and/or email addresses, separated by commas, spaces or lines (the segment
    page's box). Addresses become the ids of visible contacts; an unknown address is an error."""
    tokens = [t for t in text.replace(",", " ").replace(";", " ").split() if t]
    ids: list[object] = [t for t in tokens if "@" not in t]
    emails = sorted({t.lower() for t in tokens if "@" in t})
    if emails:
        found = dict(scoped(user, Contact).filter(email__in=emails).values_list("email", "pk"))
        unknown = [e for e in emails if e not in found]
        if unknown:
            raise InvalidInput(
                {"contact_ids": [_("No such contact: %(ids)s") % {"ids": ", ".join(unknown[:20])}]}
            )
        ids.extend(found.values())
    return ids
