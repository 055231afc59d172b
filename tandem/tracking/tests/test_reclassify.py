"""Reclassification runs: progress recorded per chunk, cancel between chunks, restart, newer rules
superseding older runs, failures, and the channel rules page (progress, cancel, permissions)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from conftest import World
from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import AuditEntry
from tandem.crm.models import Touchpoint
from tandem.tracking import reclassify, services
from tandem.tracking.channels import default_rule_dicts
from tandem.tracking.models import ChannelRuleSet, ReclassifyRun
from tandem.tracking.tests.forms_post import rules_post

S = ReclassifyRun.Status
SYSTEM = Actor.system()


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reclassify, "CHUNK", 2)


def _touchpoints(n: int, source: str = "partnerx") -> list[int]:
    rows = Touchpoint.objects.bulk_create(
        Touchpoint(
            anonymous_id=f"a{i}",
            channel="referral",
            department="marketing",
            kind="page_view",
            properties={"ci": {"source_kind": "website", "utm_source": source}},
        )
        for i in range(n)
    )
    Touchpoint.objects.create(  # no channel inputs: never touched
        anonymous_id="manual", channel="meeting", department="sales", kind="meeting"
    )
    return [t.pk for t in rows]


def _partner_rules() -> list[dict[str, str]]:
    rules = default_rule_dicts()
    rules.insert(0, {"utm_source": "^partnerx$", "channel": "conference", "department": "sales"})
    return rules


def _channels() -> dict[str, int]:
    counts: dict[str, int] = {}
    for channel in Touchpoint.objects.exclude(anonymous_id="manual").values_list(
        "channel", flat=True
    ):
        counts[channel] = counts.get(channel, 0) + 1
    return counts


def test_publishing_queues_a_run_that_records_progress_per_chunk(db: None) -> None:
    _touchpoints(5)
    services.channel_rules_publish(actor=SYSTEM, rules=_partner_rules())
    run = ReclassifyRun.objects.get()
    assert (run.version, run.status, run.processed) == (1, S.QUEUED, 0)
    seen: list[tuple[str, int, int, int]] = []
    done = reclassify.run_reclassification(
        run.pk, progress=lambda r: seen.append((r.status, r.processed, r.total, r.changed))
    )
    assert seen == [("running", 2, 5, 2), ("running", 4, 5, 4), ("running", 5, 5, 5)]
    assert (done.status, done.processed, done.total, done.changed) == (S.DONE, 5, 5, 5)
    assert done.started_at is not None
    assert done.finished_at is not None
    assert done.percent == 100
    assert _channels() == {"conference": 5}
    assert Touchpoint.objects.get(anonymous_id="manual").channel == "meeting"
    # A run that is no longer queued is not executed twice.
    assert reclassify.run_reclassification(run.pk).processed == 5


def test_cancel_stops_after_the_current_chunk_and_a_restart_completes(db: None) -> None:
    _touchpoints(7)
    services.channel_rules_publish(actor=SYSTEM, rules=_partner_rules())
    run = ReclassifyRun.objects.get()

    def cancel_after_first_chunk(current: ReclassifyRun) -> None:
        if current.processed == 2:
            services.reclassify_cancel(actor=SYSTEM, run=current)

    stopped = reclassify.run_reclassification(run.pk, progress=cancel_after_first_chunk)
    assert (stopped.status, stopped.processed, stopped.changed) == (S.CANCELLED, 2, 2)
    assert _channels() == {"conference": 2, "referral": 5}
    assert AuditEntry.objects.filter(
        model="tracking.ReclassifyRun", object_id=str(run.pk), action="update"
    ).exists()
    with pytest.raises(InvalidInput, match="already ended"):
        services.reclassify_cancel(actor=SYSTEM, run=stopped)

    again = services.reclassify_start(actor=SYSTEM)
    assert again.pk != run.pk
    assert again.status == S.QUEUED
    assert again.version == 1
    assert services.reclassify_start(actor=SYSTEM) == again  # already queued: the same run
    finished = reclassify.run_reclassification(again.pk)
    assert (finished.status, finished.processed, finished.changed) == (S.DONE, 7, 5)
    assert _channels() == {"conference": 7}
    # Idempotent: the result depends only on the inputs and the rules.
    third = reclassify.run_reclassification(services.reclassify_start(actor=SYSTEM).pk)
    assert (third.status, third.changed) == (S.DONE, 0)


def test_a_queued_run_is_cancelled_at_once_and_a_running_one_refuses_a_second(db: None) -> None:
    _touchpoints(3)
    services.channel_rules_publish(actor=SYSTEM, rules=_partner_rules())
    queued = ReclassifyRun.objects.get()
    cancelled = services.reclassify_cancel(actor=SYSTEM, run=queued)
    assert cancelled.status == S.CANCELLED
    assert cancelled.finished_at is not None
    assert reclassify.run_reclassification(queued.pk).processed == 0
    assert _channels() == {"referral": 3}

    run = services.reclassify_start(actor=SYSTEM)

    def try_a_second(current: ReclassifyRun) -> None:
        with pytest.raises(InvalidInput, match="is running"):
            services.reclassify_start(actor=SYSTEM)

    assert reclassify.run_reclassification(run.pk, progress=try_a_second).status == S.DONE


def test_newer_rules_supersede_an_older_run(db: None) -> None:
    _touchpoints(6)
    services.channel_rules_publish(actor=SYSTEM, rules=_partner_rules())
    older = ReclassifyRun.objects.get()

    def publish_newer(current: ReclassifyRun) -> None:
        if current.processed == 2:
            services.channel_rules_publish(actor=SYSTEM, rules=default_rule_dicts())

    stopped = reclassify.run_reclassification(older.pk, progress=publish_newer)
    assert (stopped.status, stopped.processed) == (S.SUPERSEDED, 2)
    # The chunk it was writing when v2 appeared was rolled back: only the first chunk changed.
    assert _channels() == {"conference": 2, "referral": 4}
    newer = ReclassifyRun.objects.get(version=2)
    assert newer.status == S.QUEUED
    assert reclassify.run_reclassification(newer.pk).status == S.DONE
    assert _channels() == {"referral": 6}


def test_a_queued_older_run_is_superseded_when_newer_rules_are_published(db: None) -> None:
    _touchpoints(2)
    services.channel_rules_publish(actor=SYSTEM, rules=_partner_rules())
    services.channel_rules_publish(actor=SYSTEM, rules=default_rule_dicts())
    v1, v2 = ReclassifyRun.objects.order_by("version")
    assert (v1.status, v2.status) == (S.SUPERSEDED, S.QUEUED)
    assert reclassify.run_reclassification(v1.pk).processed == 0
    # A run whose version is no longer the latest (e.g. queued before) stops before any work.
    ReclassifyRun.objects.filter(pk=v2.pk).update(version=1)
    assert reclassify.run_reclassification(v2.pk).status == S.SUPERSEDED


def test_a_failure_is_recorded_and_a_dead_run_can_be_restarted(db: None) -> None:
    ids = _touchpoints(3)
    Touchpoint.objects.filter(pk=ids[2]).update(properties={"ci": "not a mapping"})
    services.channel_rules_publish(actor=SYSTEM, rules=_partner_rules())
    run = ReclassifyRun.objects.get()
    with pytest.raises(AttributeError):
        reclassify.run_reclassification(run.pk)
    run.refresh_from_db()
    assert run.status == S.FAILED
    assert "AttributeError" in run.error
    assert run.processed == 2  # the first chunk was kept

    Touchpoint.objects.filter(pk=ids[2]).update(properties={"ci": {"utm_source": "partnerx"}})
    dead = services.reclassify_start(actor=SYSTEM)
    ReclassifyRun.objects.filter(pk=dead.pk).update(
        status=S.RUNNING, updated_at=timezone.now() - dt.timedelta(hours=1)
    )
    fresh = services.reclassify_start(actor=SYSTEM)  # the silent one counts as interrupted
    dead.refresh_from_db()
    assert dead.status == S.FAILED
    assert "interrupted" in dead.error
    assert reclassify.run_reclassification(fresh.pk).status == S.DONE
    assert _channels() == {"conference": 3}


# --- the channel rules page -------------------------------------------------------------------

PAGE = "/settings/channel-rules/"
PROGRESS = "/settings/channel-rules/progress/"
RESTART = "/settings/channel-rules/reclassify/"


def _cancel_url(run: ReclassifyRun) -> str:
    return f"/settings/channel-rules/runs/{run.pk}/cancel/"


def _client(world: World, role: str, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(world.user(role))
    return client


def _running_run() -> ReclassifyRun:
    _touchpoints(5)
    services.channel_rules_publish(actor=SYSTEM, rules=_partner_rules())
    run = ReclassifyRun.objects.get()
    ReclassifyRun.objects.filter(pk=run.pk).update(
        status=S.RUNNING, total=5, processed=2, changed=2, started_at=timezone.now()
    )
    run.refresh_from_db()
    return run


@pytest.mark.parametrize("role", ["head", "admin"])
def test_page_shows_the_runs_progress_and_polls_while_it_runs(world: World, role: str) -> None:
    run = _running_run()
    client = _client(world, role)
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "2 of 5 touchpoints checked, 2 changed." in html
    assert 'hx-get="/settings/channel-rules/progress/"' in html
    assert _cancel_url(run) in html
    assert "Version 1 is in force" in html
    partial = client.get(PROGRESS).content.decode()
    assert partial.lstrip().startswith('<div id="reclassify"')
    assert "every 2s" in partial
    ReclassifyRun.objects.filter(pk=run.pk).update(status=S.DONE, processed=5)
    partial = client.get(PROGRESS).content.decode()
    assert "hx-get" not in partial  # polling stops when the run ends
    assert "5 of 5 touchpoints checked" in partial
    assert "Done" in partial


def test_cancel_needs_the_csrf_token_and_then_stops_the_run(world: World) -> None:
    run = _running_run()
    client = _client(world, "head", csrf=True)
    assert client.post(_cancel_url(run)).status_code == 403
    run.refresh_from_db()
    assert not run.cancel_requested
    client.get(PAGE)
    token = client.cookies["csrftoken"].value
    answer = client.post(_cancel_url(run), {"csrfmiddlewaretoken": token})
    assert answer.status_code == 302
    assert answer["Location"] == PAGE
    run.refresh_from_db()
    assert run.cancel_requested
    assert run.status == S.RUNNING
    assert "Cancelling" in client.get(PROGRESS).content.decode()
    assert reclassify.run_reclassification(run.pk).status == S.RUNNING  # not queued: untouched


def test_restart_from_the_page_queues_a_run_for_the_latest_rules(world: World) -> None:
    _touchpoints(3)
    services.channel_rules_publish(actor=SYSTEM, rules=_partner_rules())
    first = ReclassifyRun.objects.get()
    client = _client(world, "admin")
    client.post(_cancel_url(first))
    assert "Reclassify with version 1" in client.get(PAGE).content.decode()
    assert client.post(RESTART).status_code == 302
    again = ReclassifyRun.objects.exclude(pk=first.pk).get()
    assert (again.status, again.version, again.created_by) == (S.QUEUED, 1, world.user("admin"))


def test_publishing_from_the_page(world: World) -> None:
    client = _client(world, "head")
    page = client.get(PAGE).content.decode()
    assert "The default rules (version 0) are in force" in page
    assert page.count('name="rules-') > len(default_rule_dicts()) * 8  # one row per rule
    bad = client.post(PAGE, {"note": "x", "action": "publish"})  # no rows at all
    assert bad.status_code == 400
    wrong = client.post(
        PAGE, rules_post([{"channel": "direct", "department": "nowhere"}], action="publish")
    )
    assert wrong.status_code == 400
    assert "Select a valid choice" in wrong.content.decode()
    assert ChannelRuleSet.objects.count() == 0
    rules = [{"utm_source": "^partnerx$", "channel": "conference", "department": "sales"}]
    done = client.post(PAGE, rules_post(rules, action="publish", note="partner x"), follow=True)
    assert done.status_code == 200
    assert "Version 1 is in force" in done.content.decode()
    assert ReclassifyRun.objects.get().created_by == world.user("head")


@pytest.mark.parametrize("role", ["marketer", "sales_rep", "field_rep"])
def test_people_who_may_not_edit_rules_are_refused(world: World, role: str) -> None:
    run = _running_run()
    client = _client(world, role)
    assert client.get(PAGE).status_code == 403
    assert client.get(PROGRESS).status_code == 403
    assert client.post(_cancel_url(run)).status_code == 403
    assert client.post(RESTART).status_code == 403
    assert client.post(PAGE, rules_post(_partner_rules(), action="publish")).status_code == 403
    run.refresh_from_db()
    assert not run.cancel_requested
    assert ReclassifyRun.objects.count() == 1
    assert ChannelRuleSet.objects.count() == 1
    assert Client().get(PAGE).status_code == 302  # anonymous: to the login page


def test_an_unknown_run_is_a_404(world: World) -> None:
    assert (
        _client(world, "head").post("/settings/channel-rules/runs/999/cancel/").status_code == 404
    )


def test_the_page_speaks_russian(world: World) -> None:
    _running_run()
    html = _client(world, "head").get(PAGE, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Правила каналов" in html
    assert "Проверено касаний: 2 из 5, изменено: 2." in html
    assert "Переклассификация прошлых касаний" in html
    assert '<strong class="status">Выполняется</strong>' in html


def test_ctrl_c_in_a_cli_run_records_it_as_cancelled(db: None) -> None:
    _touchpoints(4)
    services.channel_rules_publish(actor=SYSTEM, rules=_partner_rules())
    run = ReclassifyRun.objects.get()

    def interrupt(_current: ReclassifyRun) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reclassify.run_reclassification(run.pk, progress=interrupt)
    run.refresh_from_db()
    assert (run.status, run.processed, run.error) == (S.CANCELLED, 2, "interrupted")
    assert services.reclassify_start(actor=SYSTEM).status == S.QUEUED  # and it can be redone


@pytest.mark.django_db(transaction=True)
def test_rules_published_from_another_connection_supersede_a_running_run() -> None:
    import threading

    from django.db import connection

    _touchpoints(6)
    services.channel_rules_publish(actor=SYSTEM, rules=_partner_rules())
    older = ReclassifyRun.objects.get()
    reached, go = threading.Event(), threading.Event()
    outcome: list[ReclassifyRun] = []

    def pause(current: ReclassifyRun) -> None:
        if current.processed == 2:
            reached.set()
            assert go.wait(30)

    def work() -> None:
        try:
            outcome.append(reclassify.run_reclassification(older.pk, progress=pause))
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    assert reached.wait(30)
    services.channel_rules_publish(actor=SYSTEM, rules=default_rule_dicts())  # commits here
    go.set()
    worker.join(30)
    assert [(r.status, r.processed) for r in outcome] == [(S.SUPERSEDED, 2)]
    assert _channels() == {"conference": 2, "referral": 4}
    newer = ReclassifyRun.objects.get(version=2)
    assert reclassify.run_reclassification(newer.pk).status == S.DONE
    assert _channels() == {"referral": 6}
