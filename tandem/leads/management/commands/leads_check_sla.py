"""Run the hand-off SLA check once (schedule it every few minutes)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tandem.leads.services import handoff_check_sla


class Command(BaseCommand):
    help = "Escalate hand-offs whose acceptance or first-contact time ran out."

    def handle(self, *args: Any, **options: Any) -> None:
        escalated = handoff_check_sla()
        self.stdout.write(f"{escalated} hand-off(s) escalated")
