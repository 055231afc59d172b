"""A flow's webhook step is delivered as every Tandem webhook is (tandem.core.webhooks): signed
per Standard Webhooks with the flow's secret, which the reference `standardwebhooks` package
verifies on a real HTTP server; a changed body or another secret does not verify; the message
is sent once."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conftest import World
from tandem.automation import runner, services
from tandem.automation.graph import linear
from tandem.automation.models import FlowMessage
from tandem.core.audit import Actor
from tandem.core.webhooks import secret_new
from tandem.crm import services as crm
from tandem.marketing.tests.test_segment_reactions import Hook, hook  # noqa: F401


def test_a_webhook_step_is_signed_per_standard_webhooks_and_sent_once(
    world: World,
    hook: Hook,  # noqa: F811
) -> None:
    marketer = Actor(user=world.user("marketer"))
    flow = services.flow_create(
        actor=marketer,
        name="Tell the ERP",
        graph=linear({"kind": "manual"}, [("webhook", {"url": hook.url}), ("goal", {})]),
    )
    services.flow_publish(actor=marketer, flow=flow)
    flow.refresh_from_db()
    ada = crm.contact_create(actor=Actor.system(), first_name="Ada", email="ada@example.com")
    services.enrol_test(actor=marketer, flow=flow, contact=ada)
    runner.run_until_idle(now=dt.datetime.now(dt.UTC))
    runner.run_until_idle(now=dt.datetime.now(dt.UTC))  # nothing is sent twice
    ((headers, body),) = hook.received
    assert headers["webhook-id"] == f"msg_flow_{FlowMessage.objects.get().pk}"
    payload = Webhook(services.flow_webhook_secret(flow)).verify(body, headers)
    assert payload["contact"]["email"] == "ada@example.com"
    assert json.loads(body)["type"] == "flow.step"
    with pytest.raises(WebhookVerificationError):
        Webhook(services.flow_webhook_secret(flow)).verify(body.replace(b"ada@", b"eve@"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_new()).verify(body, headers)
    assert FlowMessage.objects.get().state == "sent"
