"""API of the social network connections (under /api/v1/marketing/social/): list, connect or
replace credentials, test, disconnect, pull statistics now. Gated by `manage_social` (403
otherwise); secrets are write-only: an answer carries at most their last four characters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from tandem.core.access import can, scoped
from tandem.core.api_auth import ApiCaller, caller
from tandem.core.api_errors import ApiError, Error
from tandem.core.tasks import enqueue_on_commit
from tandem.marketing.social import connections, tasks
from tandem.marketing.social.models import Network, SocialConnection

router = Router(tags=["marketing"])
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 429: Error}


def _manager(request: HttpRequest, *, write: bool = False) -> ApiCaller:
    who = caller(request)
    if not can(who.user, "manage_social") or (write and not who.can_write):
        raise ApiError(403, "forbidden", _("Social network connections are for marketing."))
    return who


def _connection(who: ApiCaller, network: str) -> SocialConnection:
    found = scoped(who.user, SocialConnection).filter(network=network).first()
    if found is None:
        raise ApiError(404, "not_found", _("This network is not connected."))
    return found


def _known(network: str) -> str:
    if network not in Network.values:
        raise ApiError(404, "not_found", _("No such network."))
    return network


class ConnectionOut(Schema):
    network: str
    account_id: str
    display_name: str
    application_key: str
    secret_hint: str  # the token's last four characters; the secrets themselves never leave
    credentials_readable: bool
    connected_at: dt.datetime
    credentials_changed_at: dt.datetime
    checked_at: dt.datetime | None
    check_ok: bool | None
    check_message: str
    stats_pulled_at: dt.datetime | None
    stats_error: str
    stats_error_at: dt.datetime | None


class ConnectionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    account_id: str = Field(max_length=200)
    display_name: str = Field("", max_length=200)
    application_key: str = Field("", max_length=200)
    access_token: str = Field("", max_length=2000, description="write-only; empty keeps it")
    application_secret_key: str = Field("", max_length=200, description="write-only (OK)")


class TestOut(Schema):
    ok: bool
    message: str


class PullOut(Schema):
    enqueued: bool


def _out(connection: SocialConnection) -> dict[str, Any]:
    return {
        **{
            name: getattr(connection, name)
            for name in ConnectionOut.model_fields
            if name != "credentials_readable"
        },
        "credentials_readable": connections.readable(connection),
    }


@router.get(
    "/social/connections",
    response={200: list[ConnectionOut], **ERRORS},
    operation_id="tandem_marketing_api_list_social_connections",
)
def list_connections(request: HttpRequest) -> list[dict[str, Any]]:
    who = _manager(request)
    return [_out(c) for c in scoped(who.user, SocialConnection).order_by("network")]


@router.get(
    "/social/connections/{network}",
    response={200: ConnectionOut, **ERRORS},
    operation_id="tandem_marketing_api_get_social_connection",
)
def get_connection(request: HttpRequest, network: str) -> dict[str, Any]:
    who = _manager(request)
    return _out(_connection(who, _known(network)))


@router.put(
    "/social/connections/{network}",
    response={200: ConnectionOut, **ERRORS},
    operation_id="tandem_marketing_api_put_social_connection",
)
def put_connection(request: HttpRequest, network: str, payload: ConnectionIn) -> dict[str, Any]:
    """Connect the network or change its connection; a new `access_token` (or OK's
    `application_secret_key`) replaces the stored one, an empty one keeps it."""
    who = _manager(request, write=True)
    data = payload.model_dump()
    saved = connections.connection_save(
        actor=who.actor, network=_known(network), token=data.pop("access_token"), **data
    )
    return _out(saved)


@router.delete(
    "/social/connections/{network}",
    response={204: None, **ERRORS},
    operation_id="tandem_marketing_api_delete_social_connection",
)
def delete_connection(request: HttpRequest, network: str) -> Status[None]:
    who = _manager(request, write=True)
    connections.connection_disconnect(actor=who.actor, connection=_connection(who, _known(network)))
    return Status(204, None)


@router.post(
    "/social/connections/{network}/test",
    response={200: TestOut, **ERRORS},
    operation_id="tandem_marketing_api_test_social_connection",
)
def test_connection(request: HttpRequest, network: str) -> dict[str, Any]:
    """Call the network's identity endpoint with the stored credentials."""
    who = _manager(request, write=True)
    result = connections.connection_test(connection=_connection(who, _known(network)))
    return {"ok": result.ok, "message": result.message}


@router.post(
    "/social/stats/pull",
    response={202: PullOut, **ERRORS},
    operation_id="tandem_marketing_api_pull_social_stats",
)
def pull_stats(request: HttpRequest) -> Status[dict[str, bool]]:
    """Pull the recent posts' numbers from the networks now (in the background)."""
    _manager(request, write=True)
    enqueue_on_commit(tasks.social_stats_pull)
    return Status(202, {"enqueued": True})
