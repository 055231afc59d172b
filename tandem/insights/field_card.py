"""The head's "Field" card on the cockpit: field work and field trials in one place, read
through field's and programmes' public selectors.

Invariants:
- visits are those the user may see (`core.access.scoped`) planned in the cockpit's window;
  "done" counts completed visits only;
- coverage is measured now: a key account is covered while its last completed visit is within
  its tier's interval (`tandem.field.selectors.coverage`);
- trials are every field trial the user may see (all time, as the programmes pages); the mean
  yield difference is the plain mean over the trials that have one (t/ha).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from tandem.core.access import scoped
from tandem.core.models import User
from tandem.field import selectors as field
from tandem.field.models import Visit, VisitPlan
from tandem.insights.periods import Window
from tandem.programmes import selectors as programmes

TOP_REPS = 3


@dataclass(frozen=True)
class FieldCard:
    visits_done: int
    reps: int  # reps with a visit in the window
    top_reps: list[dict[str, Any]]  # visits_per_rep rows, most visits done first
    key_accounts: int
    covered: int
    trials: int
    trials_with_result: int
    mean_yield_difference: float | None  # t/ha

    @property
    def coverage(self) -> float | None:
        return self.covered / self.key_accounts if self.key_accounts else None

    @property
    def visits_per_rep(self) -> float | None:
        return self.visits_done / self.reps if self.reps else None


def field_card(user: User, window: Window) -> FieldCard:
    visits = scoped(user, Visit).filter(planned_start__lt=window.end_at)
    per_rep = field.visits_per_rep(visits, window.start_at)
    rows = field.coverage(plans=scoped(user, VisitPlan))
    results = programmes.trial_results(user)
    differences = [d for result in results for _t, d in result.trials if d is not None]
    trials = sum(len(r.trials) for r in results)
    return FieldCard(
        visits_done=sum(r["done"] for r in per_rep),
        reps=len(per_rep),
        top_reps=per_rep[:TOP_REPS],
        key_accounts=len(rows),
        covered=sum(1 for r in rows if not r.due),
        trials=trials,
        trials_with_result=len(differences),
        mean_yield_difference=statistics.fmean(differences) if differences else None,
    )
