"""Schemathesis against the live API: every operation, valid and invalid data, never a 5xx.

It loads /api/v1/openapi.json from a real server (pytest-django `live_server`), generates requests
for every operation in both modes (positive: fits the schema; negative: does not), sends them with
a valid write token of an admin, and checks `not_a_server_error`. Deterministic (derandomized)
and bounded (10 examples per operation and mode: about a minute on two cores). It is part of the
normal run (`slow` only describes it; nothing deselects it).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from django.test import override_settings
from django.urls import get_resolver
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from tandem.core.audit import Actor
from tandem.core.models import ApiToken, Role, User
from tandem.core.tokens import token_create
from tandem.crm import services as crm

EXAMPLES_PER_MODE = 10

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _seed() -> tuple[User, str]:
    admin = User.objects.create_user(username="fuzz_admin", role=Role.ADMIN)
    rep = User.objects.create_user(username="fuzz_rep", role=Role.SALES_REP)
    system = Actor.system()
    for i in range(3):
        account = crm.account_create(
            actor=system,
            name=f"Account {i}",
            owner_id=rep.pk,
            domains=[f"a{i}.example.com"],
            tags=["seed"],
        )
        contact = crm.contact_create(
            actor=system,
            first_name=f"C{i}",
            account_id=account.pk,
            email=f"c{i}@a{i}.example.com",
            owner_id=rep.pk,
        )
        crm.touchpoint_record(
            channel="phone", kind="sales_call", department="sales", contact=contact, actor=rep
        )
    secret = token_create(actor=Actor(user=admin), user=admin, name="fuzz", scope="write").secret
    return admin, secret


@override_settings(API_RATE_LIMIT=1_000_000)
def test_no_operation_answers_a_server_error(live_server):
    cache.clear()
    assert get_resolver().url_patterns  # import every app's API now, not during the first request
    admin, secret = _seed()
    token = ApiToken.objects.get(user=admin)
    headers = {"Authorization": f"Bearer {secret}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert {
        "GET /api/v1/contacts",
        "POST /api/v1/touchpoints",
        "DELETE /api/v1/tokens/{token_id}",
        "PATCH /api/v1/accounts/{account_id}",
    } <= labels

    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_MODE,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def exercise(case: schemathesis.Case) -> None:
                response = case.call(base_url=live_server.url, headers=headers)
                # The fuzzer may revoke its own token (DELETE /tokens/{id}): undo it.
                ApiToken.objects.filter(pk=token.pk).update(revoked_at=None)
                case.validate_response(response, checks=[not_a_server_error])

            try:
                exercise()
            except (Exception, BaseExceptionGroup) as exc:  # collect every failure, report all
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert failures == []
