"""Flow writes: create, edit the draft graph, publish a version, pause; enrol contacts.

Invariants:
- a graph is stored only if `graph.validate_graph` accepts it (the reasons otherwise, as a
  form error or a 400); a published version is never edited: editing a live flow writes a new
  draft version, and publishing it moves new enrolments to it while running ones finish on theirs;
- enrolment obeys the flow's re-entry rule and is idempotent per (flow, contact, trigger key);
- a flow with a holdout puts `stable_fraction(flow, contact) * 100 < holdout_percent` contacts in
  the held-out group: the same contact is always on the same side; held-out enrolments run no
  step and exist only to be compared (`lift`);
- a flow another app keeps (`Flow.managed_by`, a sales sequence's) is changed only by that
  app's service, which says so with `manager=`: any other graph save, publish, status or
  settings change is refused (`owned_elsewhere`, a 400 in the API, a message on the page);
- every write by a person or a token is audited in its transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.automation import graph as g
from tandem.automation import library
from tandem.automation.library import SequenceStepLike
from tandem.automation.models import (
    Enrolment,
    EnrolmentStatus,
    Flow,
    FlowStatus,
    FlowVersion,
    ManagedBy,
    Policy,
    Reentry,
    TriggerCursor,
)
from tandem.automation.steps import stable_fraction
from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.core.owned_records import owner_reassign
from tandem.core.webhooks import decrypt_secret, encrypt_secret, secret_new
from tandem.crm.models import Contact

MAX_HOLDOUT = 50


def check_graph(data: Any) -> g.Graph:
    try:
        return g.validate_graph(data)
    except g.GraphError as exc:
        raise InvalidInput({"graph": exc.problems}, code="invalid_graph") from None


def _refuse_managed_elsewhere(flow: Flow, manager: str) -> None:
    """Refuse a change to a flow another app keeps, unless that app's service asks."""
    if flow.managed_by and flow.managed_by != manager:
        where = ManagedBy(flow.managed_by).label if flow.managed_by in ManagedBy.values else ""
        raise InvalidInput(
            _(
                "This flow belongs to %(where)s: change its steps, status and settings there, "
                "not in the automation builder."
            )
            % {"where": where or flow.managed_by},
            code="owned_elsewhere",
        )


def _clean_settings(name: str, reentry: str, holdout_percent: int) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("This field is required.")]
    elif len(name) > 200:
        errors["name"] = [_("At most %(n)d characters.") % {"n": 200}]
    if reentry not in Reentry.values:
        errors["reentry"] = [_("Unknown re-entry rule.")]
    if not 0 <= holdout_percent <= MAX_HOLDOUT:
        errors["holdout_percent"] = [_("Between 0 and %(n)d.") % {"n": MAX_HOLDOUT}]
    if errors:
        raise InvalidInput(errors)
    return {"name": name, "reentry": reentry, "holdout_percent": holdout_percent}


@transaction.atomic
def flow_create(
    *,
    actor: Actor,
    name: str,
    graph: dict[str, Any],
    description: str = "",
    reentry: str = Reentry.ONCE,
    holdout_percent: int = 0,
    manager: str = "",
) -> Flow:
    """A new flow (a draft version 1); `manager` marks it as kept by another app (ManagedBy)."""
    if manager not in ManagedBy.values:
        raise InvalidInput({"managed_by": [_("Unknown owner of the flow.")]})
    values = _clean_settings(name, reentry, holdout_percent)
    check_graph(graph)
    flow = Flow.objects.create(
        **values,
        description=description[:5000],
        owner=actor.user,
        managed_by=manager,
        webhook_secret=encrypt_secret(secret_new()),
    )
    FlowVersion.objects.create(flow=flow, number=1, graph=graph, created_by=actor.user)
    TriggerCursor.objects.create(flow=flow, last_id=_source_start(graph))
    record_change(actor=actor, action="create", instance=flow, changes=diff({}, snapshot(flow)))
    return flow


def _source_start(graph: dict[str, Any]) -> int:
    from tandem.automation import triggers

    return triggers.latest_id(str(graph.get("trigger", {}).get("kind", "")))


@transaction.atomic
def flow_update(
    *,
    actor: Actor,
    flow: Flow,
    name: str,
    reentry: str,
    holdout_percent: int,
    description: str = "",
    manager: str = "",
) -> Flow:
    flow = Flow.objects.select_for_update().get(pk=flow.pk)
    _refuse_managed_elsewhere(flow, manager)
    before = snapshot(flow)
    for key, value in _clean_settings(name, reentry, holdout_percent).items():
        setattr(flow, key, value)
    flow.description = description[:5000]
    flow.save(update_fields=["name", "reentry", "holdout_percent", "description", "updated_at"])
    record_change(actor=actor, action="update", instance=flow, changes=diff(before, snapshot(flow)))
    return flow


def draft_of(flow: Flow) -> FlowVersion:
    """The version being edited: the newest one if unpublished, else a new copy of it."""
    newest = flow.versions.order_by("-number").first()
    assert newest is not None
    if newest.published_at is None:
        return newest
    return FlowVersion(flow=flow, number=newest.number + 1, graph=newest.graph)


@transaction.atomic
def flow_graph_save(
    *, actor: Actor, flow: Flow, graph: dict[str, Any], manager: str = ""
) -> FlowVersion:
    """Store `graph` as the flow's draft (a published version is never changed)."""
    flow = Flow.objects.select_for_update().get(pk=flow.pk)
    _refuse_managed_elsewhere(flow, manager)
    check_graph(graph)
    draft = draft_of(flow)
    before = draft.graph if draft.pk else None
    draft.graph = graph
    draft.created_by = actor.user
    if draft.pk:
        FlowVersion.objects.filter(pk=draft.pk, published_at__isnull=True).update(
            graph=graph, created_by=actor.user
        )
    else:
        draft.save()
    record_change(
        actor=actor,
        action="update",
        instance=flow,
        changes={"graph": [before, graph], "version": [None, draft.number]},
    )
    return draft


@transaction.atomic
def flow_publish(
    *, actor: Actor, flow: Flow, now: dt.datetime | None = None, manager: str = ""
) -> FlowVersion:
    """Publish the draft (new enrolments use it) and make the flow active."""
    now = now or timezone.now()
    flow = Flow.objects.select_for_update().get(pk=flow.pk)
    _refuse_managed_elsewhere(flow, manager)
    draft = flow.versions.order_by("-number").first()
    if draft is None or draft.published_at is not None:
        raise InvalidInput(_("There is no draft to publish: edit the flow first."), code="no_draft")
    check_graph(draft.graph)
    FlowVersion.objects.filter(pk=draft.pk).update(published_at=now)
    draft.published_at = now
    before = snapshot(flow)
    flow.live_version = draft
    flow.status = FlowStatus.ACTIVE
    flow.save(update_fields=["live_version", "status", "updated_at"])
    record_change(
        actor=actor, action="publish", instance=flow, changes=diff(before, snapshot(flow))
    )
    return draft


@transaction.atomic
def flow_set_status(*, actor: Actor, flow: Flow, status: str, manager: str = "") -> Flow:
    flow = Flow.objects.select_for_update().get(pk=flow.pk)
    _refuse_managed_elsewhere(flow, manager)
    if status not in (FlowStatus.ACTIVE, FlowStatus.PAUSED, FlowStatus.ARCHIVED):
        raise InvalidInput({"status": [_("Unknown status.")]})
    if status == FlowStatus.ACTIVE and flow.live_version_id is None:
        raise InvalidInput(_("Publish the flow first."), code="unpublished")
    before = snapshot(flow)
    flow.status = status
    flow.save(update_fields=["status", "updated_at"])
    record_change(actor=actor, action="update", instance=flow, changes=diff(before, snapshot(flow)))
    return flow


def holds_out(flow: Flow, contact_id: int) -> bool:
    return stable_fraction("holdout", flow.pk, contact_id) * 100 < flow.holdout_percent


def enrol(
    *,
    flow: Flow,
    contact_id: int,
    trigger_key: str,
    now: dt.datetime | None = None,
    is_test: bool = False,
) -> Enrolment | None:
    """Enrol one contact on the flow's live version; None when the re-entry rule, a repeated
    trigger or an active enrolment says no. Runs in the caller's transaction (a savepoint)."""
    now = now or timezone.now()
    version_id = flow.live_version_id
    if version_id is None:
        return None
    earlier = Enrolment.objects.filter(flow=flow, contact_id=contact_id)
    if not is_test:
        if flow.reentry == Reentry.ONCE and earlier.exists():
            return None
        if (
            flow.reentry == Reentry.AFTER_EXIT
            and earlier.filter(status=EnrolmentStatus.ACTIVE).exists()
        ):
            return None
    graph = g.validate_graph(FlowVersion.objects.values_list("graph", flat=True).get(pk=version_id))
    held = not is_test and holds_out(flow, contact_id)
    try:
        with transaction.atomic():
            return Enrolment.objects.create(
                flow=flow,
                version_id=version_id,
                contact_id=contact_id,
                status=EnrolmentStatus.HELD_OUT if held else EnrolmentStatus.ACTIVE,
                node=graph.entry,
                next_run_at=None if held else now,
                trigger_key=trigger_key[:80],
                is_test=is_test,
                enrolled_at=now,
                ended_at=now if held else None,
            )
    except IntegrityError:
        return None  # this trigger already enrolled them, or they are active in the flow


@transaction.atomic
def enrol_test(*, actor: Actor, flow: Flow, contact: Contact) -> Enrolment:
    """Enrol one contact by hand to try the flow (never held out; re-entry not applied)."""
    if flow.live_version_id is None:
        raise InvalidInput(_("Publish the flow first."), code="unpublished")
    key = f"test:{timezone.now().isoformat()}"
    enrolment = enrol(flow=flow, contact_id=contact.pk, trigger_key=key, is_test=True)
    if enrolment is None:
        raise InvalidInput(
            _("%(contact)s is already going through this flow.") % {"contact": contact},
            code="already_enrolled",
        )
    record_change(
        actor=actor, action="create", instance=enrolment, changes=diff({}, snapshot(enrolment))
    )
    return enrolment


@transaction.atomic
def enrolment_exit(*, actor: Actor, enrolment: Enrolment, reason: str = "") -> bool:
    now = timezone.now()
    done = Enrolment.objects.filter(pk=enrolment.pk, status=EnrolmentStatus.ACTIVE).update(
        status=EnrolmentStatus.EXITED,
        ended_at=now,
        next_run_at=None,
        exit_reason=(reason or _("removed by hand"))[:200],
    )
    if done:
        record_change(
            actor=actor, action="exit", instance=enrolment, changes={"status": ["active", "exited"]}
        )
    return bool(done)


@transaction.atomic
def policy_update(
    *, actor: Actor, emails_per_window: int, window_days: int, quiet_start: int, quiet_end: int
) -> Policy:
    errors: dict[str, list[str]] = {}
    if not 1 <= emails_per_window <= 100:
        errors["emails_per_window"] = [_("Between 1 and 100.")]
    if not 1 <= window_days <= 90:
        errors["window_days"] = [_("Between 1 and 90.")]
    for key, hour in (("quiet_start", quiet_start), ("quiet_end", quiet_end)):
        if not 0 <= hour <= 23:
            errors[key] = [_("An hour between 0 and 23.")]
    if errors:
        raise InvalidInput(errors)
    policy = Policy.objects.select_for_update().get(pk=Policy.current().pk)
    before = snapshot(policy)
    policy.emails_per_window, policy.window_days = emails_per_window, window_days
    policy.quiet_start, policy.quiet_end = quiet_start, quiet_end
    policy.save()
    record_change(
        actor=actor, action="update", instance=policy, changes=diff(before, snapshot(policy))
    )
    return policy


def next_version_number(flow: Flow) -> int:
    return int(flow.versions.aggregate(n=Max("number"))["n"] or 0) + 1


def template_graph(key: str) -> dict[str, Any]:
    """The graph of a ready template (library.TEMPLATES) by its key: what other apps (the demo)
    start flows from."""
    from tandem.automation.library import TEMPLATES

    return TEMPLATES[key][1]()


@transaction.atomic
def flow_from_segment_create(
    *, actor: Actor, segment_id: int, segment_name: str, target: Flow
) -> Flow:
    """A published flow that enrols every contact entering the segment in `target` (a sales
    sequence's flow, say): trigger "entering a segment", one `start_flow` step. What a segment
    reaction "enrol in a sequence" became: the contact is enrolled once per entry, as far as
    `target`'s re-entry rule allows."""
    graph = g.linear(
        {"kind": "segment_entered", "segment_id": segment_id},
        [("start_flow", {"flow_id": target.pk})],
    )
    flow = flow_create(
        actor=actor,
        name=f"{segment_name} → {target.name}"[:200],
        graph=graph,
        description=_("Enrols who enters the segment in “%(name)s”.") % {"name": target.name},
        reentry=Reentry.ALWAYS,
    )
    flow_publish(actor=actor, flow=flow)
    return Flow.objects.get(pk=flow.pk)


def flows_owner_reassign(*, actor: Actor, flow_ids: list[int], source: User, target: User) -> int:
    """Hand the flows `source` owns among `flow_ids` to `target` (a sales sequence's flow follows
    its sequence when its owner is deactivated: emails then reply to the new owner), audited,
    inside the caller's transaction; returns how many."""
    return owner_reassign(
        actor=actor,
        records=Flow.objects.filter(pk__in=flow_ids),
        field="owner",
        source=source,
        target=target,
        describe=lambda row: str(row[1]),
        describe_fields=("name",),
    )


def sequence_graph(steps: Iterable[SequenceStepLike]) -> dict[str, Any]:
    """The graph a sales sequence's steps are published as (`library.sequence_graph`)."""
    return library.sequence_graph(steps)


def run_due(*, now: dt.datetime | None = None) -> int:
    """Run every due step now (or at the clock `now`) and deliver the messages; steps run."""
    from tandem.automation import runner

    return runner.run_until_idle(now=now)


def flow_webhook_secret(flow: Flow) -> str:
    """The flow's Standard Webhooks secret (`whsec_…`), made and stored (encrypted) if it has
    none or it can no longer be read (SECRET_KEY rotated without a fallback)."""
    secret = decrypt_secret(flow.webhook_secret) if flow.webhook_secret else None
    if secret is None:
        secret = secret_new()
        Flow.objects.filter(pk=flow.pk).update(webhook_secret=encrypt_secret(secret))
        flow.webhook_secret = encrypt_secret(secret)
    return secret
