"""Run the hand-off SLA check once (schedule it every few minutes)."""

from __future__ import annotations

from typing import Any

from tandem.core.commands import TandemCommand
from tandem.leads.services import handoff_check_sla


class Command(TandemCommand):
    help = "Escalate hand-offs whose acceptance or first-contact time ran out."

    def handle(self, *args: Any, **options: Any) -> None:
        escalated = handoff_check_sla()
        self.stdout.write(f"{escalated} hand-off(s) escalated")
