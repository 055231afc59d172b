"""Token services: the secret once, hashed at rest, revocation, expiry, cheap last-used."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput
from tandem.core.models import ApiToken, AuditEntry, hash_token
from tandem.core.tokens import (
    TokenRefused,
    token_authenticate,
    token_create,
    token_mark_used,
    token_revoke,
    tokens_of,
)

pytestmark = pytest.mark.django_db


def _dump_database() -> str:
    """Every value of every table, as one string: to prove a secret is stored nowhere."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_create_returns_the_secret_once_and_stores_only_its_hash(world):
    user = world.user("sales_rep")
    new = token_create(actor=Actor(user=user), user=user, name=" laptop ", scope="write")
    assert new.secret.startswith("tdm_")
    assert len(new.secret) == 47
    stored = ApiToken.objects.get(pk=new.token.pk)
    assert stored.token_hash == hash_token(new.secret)
    assert (stored.name, stored.scope, stored.user_id, stored.prefix) == (
        "laptop",
        "write",
        user.pk,
        new.secret[:12],
    )
    assert new.secret not in _dump_database()
    entry = AuditEntry.objects.get(model="core.ApiToken", object_id=str(stored.pk))
    assert entry.action == "create"
    assert entry.actor == user
    assert stored.token_hash not in str(entry.changes)


def test_two_tokens_never_share_a_secret(world):
    user = world.user("head")
    secrets = {
        token_create(actor=Actor(user=user), user=user, name=f"t{i}").secret for i in range(5)
    }
    assert len(secrets) == 5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "scope": "admin"}, "scope"),
        ({"name": "ok", "expires_at": dt.datetime(2001, 1, 1, tzinfo=dt.UTC)}, "expires_at"),
    ],
)
def test_create_refuses_bad_input_and_stores_nothing(world, kwargs, field):
    user = world.user("head")
    with pytest.raises(InvalidInput) as caught:
        token_create(actor=Actor(user=user), user=user, **kwargs)
    assert field in caught.value.errors
    assert ApiToken.objects.count() == 0


def test_authenticate_accepts_an_active_token_only(world):
    user = world.user("marketer")
    new = token_create(actor=Actor(user=user), user=user, name="ci")
    assert token_authenticate(new.secret).pk == new.token.pk
    for bad in ["", "tdm_", "tdm_nope", new.secret + "x", new.secret[4:], "x" * 500]:
        with pytest.raises(TokenRefused) as caught:
            token_authenticate(bad)
        assert caught.value.code == "invalid_token"


def test_revoked_expired_and_inactive_user_tokens_are_refused(world):
    user = world.user("field_rep")
    revoked = token_create(actor=Actor(user=user), user=user, name="a")
    token_revoke(actor=Actor(user=user), token=revoked.token)
    with pytest.raises(TokenRefused) as caught:
        token_authenticate(revoked.secret)
    assert caught.value.code == "token_revoked"

    expiring = token_create(
        actor=Actor(user=user),
        user=user,
        name="b",
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    ApiToken.objects.filter(pk=expiring.token.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    with pytest.raises(TokenRefused) as caught:
        token_authenticate(expiring.secret)
    assert caught.value.code == "token_expired"

    active = token_create(actor=Actor(user=user), user=user, name="c")
    user.is_active = False
    user.save(update_fields=["is_active"])
    with pytest.raises(TokenRefused) as caught:
        token_authenticate(active.secret)
    assert caught.value.code == "invalid_token"


def test_revoke_is_idempotent_and_audited_once(world):
    user = world.user("admin")
    new = token_create(actor=Actor(user=user), user=user, name="x")
    first = token_revoke(actor=Actor(user=user), token=new.token).revoked_at
    second = token_revoke(actor=Actor(user=user), token=new.token).revoked_at
    assert first is not None
    assert first == second
    assert AuditEntry.objects.filter(model="core.ApiToken", action="update").count() == 1


def test_last_used_is_written_at_most_once_a_minute(world):
    user = world.user("head")
    token = token_create(actor=Actor(user=user), user=user, name="x").token
    with CaptureQueriesContext(connection) as first:
        token_mark_used(token)
    assert len(first) == 1
    assert "UPDATE" in first[0]["sql"]
    used = ApiToken.objects.get(pk=token.pk).last_used_at
    assert used is not None
    again = ApiToken.objects.get(pk=token.pk)
    with CaptureQueriesContext(connection) as second:
        token_mark_used(again)
    assert len(second) == 0
    stale = ApiToken.objects.get(pk=token.pk)
    stale.last_used_at = used - dt.timedelta(minutes=2)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=stale.last_used_at)
    token_mark_used(stale)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > used


def test_tokens_of_lists_only_the_users_own(world):
    rep, head = world.user("sales_rep"), world.user("head")
    mine = token_create(actor=Actor(user=rep), user=rep, name="mine").token
    token_create(actor=Actor(user=head), user=head, name="theirs")
    assert list(tokens_of(rep)) == [mine]
