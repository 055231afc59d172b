"""Background work for marketing: thin wrappers taking ids (see tandem.core.tasks conventions).

All are idempotent: a refresh recomputes the member set; a send run claims each recipient with a
conditional UPDATE, so running it twice (or after a crash) mails nobody twice.
"""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from tandem.marketing.email import sending
from tandem.marketing.models import EmailSend, Segment
from tandem.marketing.segments import services as seg


@task()
def segment_refresh(segment_id: int) -> list[int]:
    entered, left = seg.segment_refresh(segment_id=segment_id)
    return [entered, left]


@task()
def segments_refresh_all() -> int:
    ids = list(Segment.objects.values_list("pk", flat=True))
    for pk in ids:
        seg.segment_refresh(segment_id=pk)
    return len(ids)


@task()
def send_run(send_id: int) -> int:
    delivered = sending.send_run(send_id=send_id).get("delivered", 0)
    send = EmailSend.objects.get(pk=send_id)
    if send.status == EmailSend.Status.TESTING and send.started_at is not None:
        when = send.started_at + dt.timedelta(minutes=send.ab_wait_minutes)
        ab_choose_winner.using(run_after=when).enqueue(send_id)
    return delivered


@task()
def ab_choose_winner(send_id: int) -> str:
    winner = sending.ab_choose_winner(send_id=send_id)
    sending.send_run(send_id=send_id)
    return winner
