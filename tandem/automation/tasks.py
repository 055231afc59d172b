"""Background work of automation: thin tasks that call the runner.

`automation_tick` is periodic (PERIODIC_TASKS, every minute): it reads the triggers, runs every
due step and delivers or recovers messages. Idempotent: enrolments are claimed, steps recorded
once per (enrolment, seq), messages claimed before they leave.
"""

from __future__ import annotations

from django_tasks import task

from tandem.automation import runner, triggers


@task()
def automation_tick() -> int:
    """Enrol from triggers, advance every due enrolment, deliver messages; steps run."""
    triggers.dispatch_all()
    steps = runner.run_until_idle()
    runner.messages_recover()
    return steps
