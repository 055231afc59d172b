"""The attribution page and its exports (thin: parse the form, call the services, render).

Who: every signed-in role (head, admin, marketer, sales and field reps) may open the page;
each sees credit computed over the touchpoints and conversions ``scoped`` lets them see (a
rep: their own and their team's records), so a rep's page is about their book, not the
company's. Exports need the ``export`` capability. Bad parameters: the form shows the
errors (page) or a 400 with the reason (export); nothing is stored.

Runs are never computed in the request: the page asks for its runs (`services.runs_request`),
shows them when they are stored, else answers at once with their progress, which the browser
follows (`runs_progress`, htmx every 2 s) until the runs are done and the page reloads itself.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from tandem.attribution import exports, services
from tandem.attribution.engine.models import MODELS
from tandem.attribution.models import AttributionRun
from tandem.core.access import can, request_user, scoped
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.exports import record_export
from tandem.core.labels import ATTRIBUTION_MODEL_LABELS
from tandem.core.models import Team
from tandem.crm.models import Industry

MODEL_CHOICES = [(m, ATTRIBUTION_MODEL_LABELS.get(m, m)) for m in MODELS]
CONVERSION_CHOICES = [
    ("deal_won", gettext_lazy("Deal won (revenue)")),
    ("opportunity", gettext_lazy("Opportunity created")),
    ("mql", gettext_lazy("Became MQL")),
]


class RunForm(forms.Form):
    model = forms.ChoiceField(label=gettext_lazy("Model"), choices=MODEL_CHOICES, initial="markov")
    start = forms.DateField(label=gettext_lazy("From"), required=False)
    end = forms.DateField(label=gettext_lazy("To"), required=False)
    unit = forms.ChoiceField(
        label=gettext_lazy("Journey of"),
        choices=[("contact", gettext_lazy("a contact")), ("account", gettext_lazy("an account"))],
        initial="contact",
        required=False,
    )
    conversion = forms.ChoiceField(
        label=gettext_lazy("Conversion"), choices=CONVERSION_CHOICES, required=False
    )
    event = forms.CharField(
        label=gettext_lazy("…or touchpoint kind"), max_length=60, required=False
    )
    lookback_days = forms.IntegerField(
        label=gettext_lazy("Lookback (days)"),
        min_value=0,
        max_value=730,
        initial=90,
        required=False,
    )
    industry = forms.ChoiceField(
        label=gettext_lazy("Industry"),
        choices=[("", gettext_lazy("any")), *list(Industry.choices)],
        required=False,
    )
    team = forms.ModelChoiceField(
        label=gettext_lazy("Owner team"), queryset=Team.objects.all(), required=False
    )
    channels = forms.CharField(
        label=gettext_lazy("Only channels (comma-separated)"), max_length=4000, required=False
    )
    order = forms.IntegerField(
        label=gettext_lazy("Markov order"), min_value=1, max_value=3, initial=1, required=False
    )
    n_boot = forms.IntegerField(
        label=gettext_lazy("Bootstrap replicates"),
        min_value=0,
        max_value=services.MAX_BOOT,
        initial=100,
        required=False,
    )

    def request(self) -> Any:
        d = self.cleaned_data
        conversion = f"event:{d['event'].strip()}" if d.get("event") else d.get("conversion")
        return services.build_request(
            start=d.get("start"),
            end=d.get("end"),
            unit=d.get("unit") or "contact",
            conversion=conversion or "deal_won",
            lookback_days=90 if d.get("lookback_days") is None else d["lookback_days"],
            industry=d.get("industry") or "",
            team_id=d["team"].pk if d.get("team") else None,
            channels=(d.get("channels") or "").split(","),
            model=d["model"],
            order=d.get("order") or 1,
            n_boot=100 if d.get("n_boot") is None else d["n_boot"],
        )


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


def _tables(result: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    titles = {
        "channel": _("By channel"),
        "department": _("By department"),
        "campaign": _("By campaign"),
        "content": _("By content"),
        "person": _("By person"),
    }
    tables = []
    for dim, title in titles.items():
        rows = [
            {
                **r,
                "pct": _pct(r["share"]),
                "interval": ""
                if r["lower"] is None
                else _("%(lo)s to %(hi)s") % {"lo": _pct(r["lower"]), "hi": _pct(r["upper"])},
            }
            for r in result["credits"].get(dim, [])
        ]
        tables.append((dim, title, rows))
    return tables


def _form(request: HttpRequest) -> RunForm:
    data = request.GET.copy()
    data.setdefault("model", "markov")
    return RunForm(data)


def _page_params(params: services.ModelParams) -> list[services.ModelParams]:
    """The runs the page shows: the chosen model (with intervals) and the side-by-side ones."""
    chosen = {params.model: params}
    for side in services.side_by_side(params):
        chosen.setdefault(side.model, side)
    return list(chosen.values())


MAX_POLLED = 20


def _progress_context(runs: list[AttributionRun]) -> dict[str, Any]:
    ids = ",".join(str(r.pk) for r in runs)
    return {
        "runs": runs,
        "percent": services.runs_percent(runs),
        "active": any(r.is_active for r in runs),
        "done": all(r.is_done for r in runs),
        "failed_runs": [r for r in runs if r.status == AttributionRun.Status.FAILED],
        "progress_url": f"{reverse('attribution:progress')}?ids={ids}",
    }


@login_required
@require_GET
def attribution_page(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        try:
            spec, params = form.request()
        except InvalidInput as exc:
            for field, errors in exc.errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            user = request_user(request)
            runs = services.runs_request(user=user, spec=spec, params_list=_page_params(params))
            if not all(r.is_done for r in runs):
                context.update(pending=True, **_progress_context(runs))
                return render(request, "attribution/page.html", context)
            run = runs[0]
            by_model = {r.model: r for r in runs}
            side = {m: by_model[m] for m in services.SIDE_BY_SIDE}
            chart = {
                "channel": run.result["credits"]["channel"],
                "department": run.result["credits"]["department"],
                "models": {
                    m: {r["name"]: r["share"] for r in rr.result["credits"]["channel"]}
                    for m, rr in side.items()
                },
                "labels": {
                    "share": _("Share of conversions"),
                    "interval": _("Confidence interval"),
                },
            }
            context.update(
                run=run,
                result=run.result,
                adjusted=services.department_credit_adjusted(
                    user=user, run=run, spec=spec, params=params
                ),
                tables=_tables(run.result),
                chart=chart,
                side_models=list(side),
                query=request.GET.urlencode(),
                can_export=can(user, "export"),
            )
    status = 200 if form.is_valid() else 400
    return render(request, "attribution/page.html", context, status=status)


@login_required
@require_GET
def runs_progress(request: HttpRequest) -> HttpResponse:
    """How far the runs ``ids`` (comma-separated, those the user may see) are: a fragment the
    page polls; once all are done it tells htmx to reload the page (``HX-Refresh``)."""
    try:
        ids = sorted({int(part) for part in request.GET.get("ids", "").split(",") if part})
    except ValueError:
        return HttpResponse(_("ids: run numbers separated by commas"), status=400)
    if not 0 < len(ids) <= MAX_POLLED or not all(0 < pk < 2**63 for pk in ids):
        return HttpResponse(_("ids: run numbers separated by commas"), status=400)
    runs = list(scoped(request_user(request), AttributionRun).filter(pk__in=ids))
    if len(runs) != len(ids):
        raise Http404
    context = _progress_context(runs)
    response = render(request, "attribution/_progress.html", context)
    if context["done"] and getattr(request, "htmx", False):
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_GET
def attribution_export(request: HttpRequest, fmt: str) -> HttpResponse:
    user = request_user(request)
    if not can(user, "export"):
        return HttpResponse(_("You may not export."), status=403, content_type="text/plain")
    form = _form(request)
    if not form.is_valid():
        reasons = "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())
        return HttpResponse(reasons, status=400, content_type="text/plain; charset=utf-8")
    try:
        spec, params = form.request()
    except InvalidInput as exc:
        reasons = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
        return HttpResponse(reasons, status=400, content_type="text/plain; charset=utf-8")
    run = services.run_request(user=user, spec=spec, params=params)
    if not run.is_done:  # the page shows its progress and offers the export when done
        return HttpResponseRedirect(f"{reverse('attribution:page')}?{request.GET.urlencode()}")
    adjusted = services.department_credit_adjusted(user=user, run=run, spec=spec, params=params)
    name = f"attribution-{params.model}-{spec.start:%Y%m%d}-{spec.end:%Y%m%d}"
    record_export(
        actor=Actor.of(request),
        model=AttributionRun,
        fmt="xlsx" if fmt == "xlsx" else "csv",
        rows=sum(1 for _row in exports.rows(run.result, adjusted)) - 1,
        source=run,
        filters={k: v for k, v in request.GET.items() if k != "csrfmiddlewaretoken"},
    )
    if fmt == "xlsx":
        response = HttpResponse(
            exports.to_xlsx(run.result, adjusted),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    else:
        response = HttpResponse(
            exports.to_csv(run.result, adjusted), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response
