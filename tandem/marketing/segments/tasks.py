"""Background work of segments: thin wrappers taking ids (see tandem.core.tasks conventions).

- `segment_refresh(segment_id)` / `segments_refresh_all()` (periodic, every 15 minutes): a
  refresh recomputes the member set, so running it twice changes nothing; a segment that cannot
  be computed is marked broken and the others are still refreshed;
- `segment_reactions_dispatch(segment_id)` (see `segments.reactions`): enqueued after a static
  list changes;
- `segment_reactions_run()`: periodic (every minute, `marketing.segment_reactions_run`): reacts to
  every segment's new events (a dynamic segment's refresh) and re-enqueues due retries and
  deliveries whose task was lost;
- `reaction_deliver(delivery_id)`: one attempt; a failure schedules the next attempt itself
  (`run_after` = the backoff); a finished delivery hands on to its reaction's next one (event
  order per subscriber). Idempotent: the attempt claims the delivery first.
"""

from __future__ import annotations

from django_tasks import task

from tandem.core.tasks import enqueue_on_commit
from tandem.marketing.segments import reactions
from tandem.marketing.segments import services as seg


def _enqueue(delivery_ids: list[int]) -> None:
    for pk in delivery_ids:
        enqueue_on_commit(reaction_deliver, pk)


@task()
def segment_reactions_dispatch(segment_id: int) -> int:
    created = reactions.reactions_dispatch(segment_id=segment_id)
    _enqueue(created)
    return len(created)


@task()
def segment_reactions_run() -> int:
    created = reactions.reactions_dispatch()
    due = [pk for pk in reactions.deliveries_due() if pk not in set(created)]
    _enqueue(created + due)
    return len(created) + len(due)


IN_LINE_PER_TASK = 100


@task()
def reaction_deliver(delivery_id: int) -> str:
    """One attempt; when it finishes the delivery, the reaction's next deliveries follow in event
    order (up to `IN_LINE_PER_TASK`, then a new task carries on)."""
    attempt = reactions.delivery_attempt(delivery_id)
    first_status = attempt.status
    for _ in range(IN_LINE_PER_TASK):
        if attempt.status in ("busy", "pending"):
            break
        following = reactions.next_in_line(delivery_id)
        if following is None:
            break
        delivery_id = following
        attempt = reactions.delivery_attempt(delivery_id)
    else:
        following = reactions.next_in_line(delivery_id)
        if following is not None:
            enqueue_on_commit(reaction_deliver, following)
    if attempt.retry_at is not None:
        deferred = reaction_deliver.using(run_after=attempt.retry_at)
        if deferred.get_backend().supports_defer:
            deferred.enqueue(delivery_id)
        # else (the immediate backend): `segment_reactions_run` picks it up when it is due
    return first_status


@task()
def segment_refresh(segment_id: int) -> list[int]:
    """Refresh one segment; a broken one is marked (reason on its page) and counts [0, 0]."""
    result = seg.segment_refresh_or_mark(segment_id=segment_id)
    return list(result) if result is not None else [0, 0]


@task()
def segments_refresh_all() -> int:
    """Refresh every segment; one that cannot be computed is marked broken and logged, and the
    others are still refreshed. Returns how many segments were looked at."""
    done = seg.segments_refresh_all()
    return done["refreshed"] + done["broken"]
