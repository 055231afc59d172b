"""Field trials (agriculture): a demo plot on a farm, the product against the farmer's usual
practice, with plot sizes, dates and yields; the yield difference of each trial and its
uncertainty across every trial of a product; results as content marketing can use.

Invariants:
- a trial's difference is mean yield per hectare of its product plots less that of its usual-
  practice plots (t/ha), defined only when both arms have a harvested plot;
- across trials the uncertainty is a Student-t 95% interval of the trial differences (n >= 2;
  each farm is one observation, plots within a farm are not independent) and a percentile
  bootstrap interval with a fixed seed (the same data always give the same interval);
- creating a trial writes one touchpoint (department `field`, channel `field_trial`) for the
  farm through crm's `touchpoint_record`; the first complete result writes one more
  (`field_trial_result`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import transaction
from django.utils.translation import gettext as _
from scipy import stats

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import Department
from tandem.crm import services as crm
from tandem.crm.models import Account, Touchpoint
from tandem.programmes.models import FieldTrial, PlotArm, TrialPlot
from tandem.sales.models import Product

CONFIDENCE = 0.95
BOOTSTRAP_SAMPLES = 5000


@transaction.atomic
def trial_create(
    *,
    actor: Actor,
    account: Account,
    product: Product,
    crop: str,
    season: int,
    notes: str = "",
    at: dt.datetime | None = None,
) -> FieldTrial:
    if not crop.strip():
        raise InvalidInput({"crop": [_("Name the crop.")]})
    if not 1990 <= season <= 2100:
        raise InvalidInput({"season": [_("Enter the year of the season.")]})
    trial = FieldTrial.objects.create(
        account=account,
        product=product,
        crop=crop.strip(),
        season=season,
        owner=actor.user,
        notes=notes,
    )
    crm.touchpoint_record(
        channel="field_trial",
        kind="field_trial_started",
        department=Department.FIELD,
        account=account,
        occurred_at=at,
        content=product.name,
        actor=actor.user,
        source="programmes",
        properties={"trial": trial.pk, "product": product.pk, "crop": trial.crop},
    )
    record_change(actor=actor, action="create", instance=trial, changes=diff({}, snapshot(trial)))
    return trial


@transaction.atomic
def plot_add(
    *,
    actor: Actor,
    trial: FieldTrial,
    arm: str,
    area_ha: Decimal,
    sown_on: dt.date,
    harvested_on: dt.date | None = None,
    yield_t: Decimal | None = None,
    at: dt.datetime | None = None,
) -> TrialPlot:
    errors: dict[str, list[str]] = {}
    if arm not in PlotArm.values:
        errors["arm"] = [_("Choose the product or the usual practice.")]
    if area_ha <= 0:
        errors["area_ha"] = [_("A plot has an area.")]
    if harvested_on is not None and harvested_on < sown_on:
        errors["harvested_on"] = [_("Harvest comes after sowing.")]
    if yield_t is not None and (yield_t < 0 or harvested_on is None):
        errors["yield_t"] = [_("A yield is measured at harvest and is not negative.")]
    if errors:
        raise InvalidInput(errors)
    plot = TrialPlot.objects.create(
        trial=trial,
        arm=arm,
        area_ha=area_ha,
        sown_on=sown_on,
        harvested_on=harvested_on,
        yield_t=yield_t,
    )
    record_change(actor=actor, action="create", instance=plot, changes=diff({}, snapshot(plot)))
    _result_touch(actor, trial, at)
    return plot


@transaction.atomic
def plot_harvest(
    *,
    actor: Actor,
    plot_id: int,
    harvested_on: dt.date,
    yield_t: Decimal,
    at: dt.datetime | None = None,
) -> TrialPlot:
    plot = TrialPlot.objects.select_for_update().select_related("trial").get(pk=plot_id)
    if harvested_on < plot.sown_on:
        raise InvalidInput({"harvested_on": [_("Harvest comes after sowing.")]})
    if yield_t < 0:
        raise InvalidInput({"yield_t": [_("A yield is not negative.")]})
    before = snapshot(plot)
    plot.harvested_on, plot.yield_t = harvested_on, yield_t
    plot.save(update_fields=["harvested_on", "yield_t"])
    record_change(actor=actor, action="update", instance=plot, changes=diff(before, snapshot(plot)))
    _result_touch(actor, plot.trial, at)
    return plot


def _result_touch(actor: Actor, trial: FieldTrial, at: dt.datetime | None) -> None:
    difference = trial_difference(list(trial.plots.all()))
    if difference is None:
        return
    if Touchpoint.objects.filter(
        account_id=trial.account_id, kind="field_trial_result", properties__trial=trial.pk
    ).exists():
        return
    crm.touchpoint_record(
        channel="field_trial",
        kind="field_trial_result",
        department=Department.FIELD,
        account=trial.account,
        occurred_at=at,
        content=trial.product.name,
        actor=actor.user,
        source="programmes",
        properties={"trial": trial.pk, "difference_t_ha": round(difference, 3)},
    )


# --- the numbers (pure) -----------------------------------------------------------------------


def _per_ha(plots: Sequence[TrialPlot], arm: str) -> list[float]:
    return [
        float(p.yield_t) / float(p.area_ha)
        for p in plots
        if p.arm == arm and p.yield_t is not None and p.area_ha > 0
    ]


def trial_difference(plots: Sequence[TrialPlot]) -> float | None:
    """Mean yield per hectare of the product plots less the usual-practice plots (t/ha)."""
    product, usual = _per_ha(plots, PlotArm.PRODUCT), _per_ha(plots, PlotArm.USUAL)
    if not product or not usual:
        return None
    return sum(product) / len(product) - sum(usual) / len(usual)


@dataclass(frozen=True)
class Uncertainty:
    n: int
    mean: float | None
    t_low: float | None
    t_high: float | None
    boot_low: float | None
    boot_high: float | None


def difference_uncertainty(differences: Sequence[float]) -> Uncertainty:
    """The mean difference across trials with a 95% t-interval and a bootstrap interval."""
    n = len(differences)
    if n == 0:
        return Uncertainty(0, None, None, None, None, None)
    values = np.asarray(differences, dtype=float)
    mean = float(values.mean())
    if n < 2:
        return Uncertainty(n, mean, None, None, None, None)
    sem = float(stats.sem(values))
    if sem == 0 or math.isnan(sem):
        t_low = t_high = mean
    else:
        t_low, t_high = (float(x) for x in stats.t.interval(CONFIDENCE, n - 1, loc=mean, scale=sem))
    rng = np.random.default_rng(17)
    samples = rng.choice(values, size=(BOOTSTRAP_SAMPLES, n), replace=True).mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    boot_low, boot_high = (float(x) for x in np.percentile(samples, [tail, 100 - tail]))
    return Uncertainty(n, mean, t_low, t_high, boot_low, boot_high)


# --- per product ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductResults:
    product: Product
    trials: list[tuple[FieldTrial, float | None]]
    uncertainty: Uncertainty


def product_results(product: Product, trials: Sequence[FieldTrial]) -> ProductResults:
    """`trials` are the trials of the product the caller may see (prefetched plots help)."""
    rows = [(trial, trial_difference(list(trial.plots.all()))) for trial in trials]
    differences = [d for _trial, d in rows if d is not None]
    return ProductResults(product, rows, difference_uncertainty(differences))


def results_rows(results: ProductResults) -> list[list[Any]]:
    """The trials of a product as spreadsheet rows (header first)."""
    rows: list[list[Any]] = [
        ["product", "farm", "crop", "season", "product t/ha", "usual t/ha", "difference t/ha"]
    ]
    for trial, difference in results.trials:
        plots = list(trial.plots.all())
        product = _per_ha(plots, PlotArm.PRODUCT)
        usual = _per_ha(plots, PlotArm.USUAL)
        rows.append(
            [
                results.product.name,
                trial.account.name,
                trial.crop,
                trial.season,
                round(sum(product) / len(product), 3) if product else None,
                round(sum(usual) / len(usual), 3) if usual else None,
                round(difference, 3) if difference is not None else None,
            ]
        )
    return rows


def results_summary(results: ProductResults) -> str:
    """One paragraph marketing can quote (in the active language)."""
    u = results.uncertainty
    if u.mean is None:
        return _("%(product)s: no harvested trial yet.") % {"product": results.product.name}
    if u.t_low is None or u.t_high is None:
        return _("%(product)s: one trial, %(mean)+.2f t/ha against the usual practice.") % {
            "product": results.product.name,
            "mean": u.mean,
        }
    return _(
        "%(product)s: across %(n)d farm trials the yield was %(mean)+.2f t/ha against the "
        "farmers' usual practice (95%% confidence interval %(low)+.2f to %(high)+.2f t/ha)."
    ) % {
        "product": results.product.name,
        "n": u.n,
        "mean": u.mean,
        "low": u.t_low,
        "high": u.t_high,
    }
