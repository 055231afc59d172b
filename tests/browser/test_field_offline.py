"""The field web app offline, in Debian's chromium: a field rep opens two visits while online
(the service worker keeps them), the network goes off, the rep files both reports (queued in
IndexedDB), the network comes back, and both reports are stored once each, no duplicates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from conftest import World
from tandem.core.audit import Actor
from tandem.crm import services as crm
from tandem.field import services
from tandem.field.models import Attachment, SyncOperation, Visit

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
WAIT_FOR_CACHE = """async (urls) => {
    for (let i = 0; i < 100; i++) {
        const found = await Promise.all(urls.map((u) => caches.match(u, { ignoreVary: true })));
        if (found.every(Boolean)) return true;
        await new Promise((r) => setTimeout(r, 100));
    }
    return false;
}"""


def _visits(world: World) -> list[Visit]:
    rep = world.user("field_rep")
    account = world.accounts[("field_rep", "north")]
    crm.account_update(actor=Actor.system(), account=account, industry="agriculture")
    account.refresh_from_db()
    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    return [
        services.visit_create(
            actor=Actor(user=rep),
            account=account,
            rep=rep,
            planned_start=start + dt.timedelta(hours=k),
            planned_end=start + dt.timedelta(hours=k, minutes=45),
        )[0]
        for k in (1, 3)
    ]


def test_two_reports_filed_offline_are_stored_once_when_back_online(
    page: Any, live_server: Any, world: World, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    first, second = _visits(world)
    base = live_server.url
    sign_in(page, base, "field_rep_north")
    page.goto(f"{base}/field/")
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    urls = [f"{base}/field/visits/{v.uuid}/" for v in (first, second)]
    for url in urls:  # opened once online, now controlled by the worker: kept for offline
        page.goto(url)
        page.wait_for_selector("form[data-offline-report]")
    assert page.evaluate("() => navigator.serviceWorker.controller !== null")
    assert page.evaluate(WAIT_FOR_CACHE, urls)

    page.context.set_offline(True)
    for url, note in ((urls[0], "Wheat at BBCH 31"), (urls[1], "Maize sown")):
        page.goto(url)  # from the service worker's cache
        page.fill("#id_notes", note)
        page.fill("#id_crops", "wheat, maize")
        page.click("form[data-offline-report] button[type=submit]")
        page.wait_for_function(
            "() => document.getElementById('field-app').dataset.queuedOps === '1'"
        )
        if url == urls[0]:  # and a photo, queued with its own uuid
            page.set_input_files(
                "#id_file", files=[{"name": "field.png", "mimeType": "image/png", "buffer": PNG}]
            )
            page.click("form[data-offline-attach] button[type=submit]")
            page.wait_for_function(
                "() => document.getElementById('field-app').dataset.waiting === '2'"
            )
    assert Visit.objects.filter(notes="").count() == 2  # nothing reached the server

    page.context.set_offline(False)  # the page hears "online" and sends its queue
    page.wait_for_function(
        "() => document.getElementById('field-app').dataset.waiting === '0'", timeout=20_000
    )
    page.goto(f"{base}/field/")  # a second page load finds nothing left to send
    page.wait_for_function("() => document.getElementById('field-app').dataset.flushed")

    stored = {v.pk: v for v in Visit.objects.filter(pk__in=[first.pk, second.pk])}
    assert stored[first.pk].notes == "Wheat at BBCH 31"
    assert stored[second.pk].notes == "Maize sown"
    assert stored[first.pk].report["crops"] == ["wheat", "maize"]
    assert [stored[first.pk].version, stored[second.pk].version] == [2, 2]
    assert SyncOperation.objects.filter(kind="report").count() == 2
    assert all(op.outcome["status"] == "applied" for op in SyncOperation.objects.all())
    (photo,) = Attachment.objects.all()
    assert (photo.visit_id, photo.content_type, photo.size) == (first.pk, "image/png", len(PNG))
