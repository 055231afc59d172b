"""Connections to the social networks: credentials entered on a page (or the API), stored
encrypted, tested against the network's identity call, replaced, disconnected.

One connection per network. What it holds, per network (`FIELDS`): the account the posts go to
(a VK community `owner_id`, an OK `group_id`, a Facebook `page_id`, a LinkedIn `author` URN, a
Telegram `chat_id`, a YouTube `channel_id`), the main token (`access_token`, Telegram's
`bot_token`) and, for Odnoklassniki, the application's public key and its secret key. The
adapters read these through `base.credentials`, over whatever settings give.

Invariants:
- secrets (tokens, the OK application secret) are stored only encrypted (`social.secrets`); an
  answer, a page or an audit entry shows at most their last four characters (`secret_hint`);
- saving without a new token keeps the stored one (a replacement is a save with a new one);
  the first save of a network needs every secret it uses;
- every save and disconnection writes an audit entry in the same transaction, without the
  encrypted value; a test records its outcome on the connection, changes nothing on the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.marketing.social import secrets
from tandem.marketing.social.models import Network, SocialConnection


@dataclass(frozen=True)
class NetworkFields:
    account: str  # the credentials key the account id goes under
    token: str  # the credentials key of the main secret
    app_secret: bool = False  # Odnoklassniki: application_key + application_secret_key
    account_pattern: str = r"^\S{1,200}$"


FIELDS: dict[str, NetworkFields] = {
    "linkedin": NetworkFields(
        "author", "access_token", False, r"^urn:li:(organization|person):[A-Za-z0-9_-]+$"
    ),
    "facebook": NetworkFields("page_id", "access_token", False, r"^\d{1,30}$"),
    "youtube": NetworkFields("channel_id", "access_token", False, r"^[A-Za-z0-9_-]{1,100}$"),
    "vk": NetworkFields("owner_id", "access_token", False, r"^-?\d{1,20}$"),
    "ok": NetworkFields("group_id", "access_token", True, r"^\d{1,30}$"),
    "telegram": NetworkFields("chat_id", "bot_token", False, r"^(@\w{4,64}|-?\d{1,20})$"),
}
AUDITED = [
    "network",
    "account_id",
    "display_name",
    "application_key",
    "secret_hint",
    "connected_by",
    "credentials_changed_at",
]


def connection_credentials(network: str) -> dict[str, str] | None:
    """The adapter's view of the network's connection; None without one (or one no key opens)."""
    found = SocialConnection.objects.filter(network=network).first()
    if found is None or network not in FIELDS:
        return None
    opened = secrets.decrypt(found.credentials)
    if opened is None:
        return None
    spec = FIELDS[network]
    values = {spec.account: found.account_id, spec.token: opened.get("token", "")}
    if spec.app_secret:
        values["application_key"] = found.application_key
        values["application_secret_key"] = opened.get("application_secret_key", "")
    if network == "telegram" and found.account_id.startswith("@"):
        values["channel"] = found.account_id[1:]
    return values


def readable(connection: SocialConnection) -> bool:
    """Whether the stored credentials open with the configured keys."""
    return secrets.decrypt(connection.credentials) is not None


def _clean(
    network: str,
    current: SocialConnection | None,
    *,
    account_id: str,
    display_name: str,
    application_key: str,
    token: str,
    application_secret_key: str,
) -> tuple[dict[str, str], dict[str, str] | None]:
    if network not in FIELDS:
        raise InvalidInput({"network": [_("Choose a network.")]})
    spec = FIELDS[network]
    errors: dict[str, list[str]] = {}
    account_id, display_name = account_id.strip(), display_name.strip()
    application_key, token = application_key.strip(), token.strip()
    application_secret_key = application_secret_key.strip()
    if not re.match(spec.account_pattern, account_id):
        errors["account_id"] = [_("Enter the account, page or group id as the network shows it.")]
    if len(display_name) > 200 or any(ord(c) < 32 for c in display_name):
        errors["display_name"] = [_("At most 200 characters, on one line.")]
    if any(c.isspace() or ord(c) < 32 for c in token) or len(token) > 2000:
        errors["token"] = [_("A token has no spaces and at most 2000 characters.")]
    opened = secrets.decrypt(current.credentials) if current else None
    if not token and opened is None:
        errors["token"] = [_("Enter the access token.")]
    if spec.app_secret:
        if not re.match(r"^[A-Za-z0-9]{1,200}$", application_key):
            errors["application_key"] = [_("Enter the application's public key.")]
        if not application_secret_key and (
            opened is None or "application_secret_key" not in opened
        ):
            errors["application_secret_key"] = [_("Enter the application's secret key.")]
        if len(application_secret_key) > 200 or " " in application_secret_key:
            errors["application_secret_key"] = [_("At most 200 characters, no spaces.")]
    elif application_key:
        errors["application_key"] = [_("Only Odnoklassniki uses an application key.")]
    if errors:
        raise InvalidInput(errors)
    fields = {
        "account_id": account_id,
        "display_name": display_name,
        "application_key": application_key if spec.app_secret else "",
    }
    if not token and not application_secret_key:
        return fields, None  # the stored secrets stay
    new_secrets = dict(opened or {})
    if token:
        new_secrets["token"] = token
    if spec.app_secret and application_secret_key:
        new_secrets["application_secret_key"] = application_secret_key
    return fields, new_secrets


@transaction.atomic
def connection_save(
    *,
    actor: Actor,
    network: str,
    account_id: str,
    display_name: str = "",
    application_key: str = "",
    token: str = "",
    application_secret_key: str = "",
) -> SocialConnection:
    """Connect a network, or change its connection (a new token replaces the stored one)."""
    current = SocialConnection.objects.select_for_update().filter(network=network).first()
    fields, new_secrets = _clean(
        network,
        current,
        account_id=account_id,
        display_name=display_name,
        application_key=application_key,
        token=token,
        application_secret_key=application_secret_key,
    )
    now = timezone.now()
    connection = current or SocialConnection(network=network, connected_by=actor.user)
    before = snapshot(connection, AUDITED) if current else {}
    for key, value in fields.items():
        setattr(connection, key, value)
    if new_secrets is not None:
        connection.credentials = secrets.encrypt(new_secrets)
        connection.secret_hint = secrets.hint(new_secrets.get("token", ""))
        connection.credentials_changed_at = now
        connection.connected_by = actor.user
        connection.check_ok = None  # the last test was of other credentials
        connection.check_message = ""
        connection.checked_at = None
    connection.save()
    changes = diff(before, snapshot(connection, AUDITED))
    if new_secrets is not None:
        changes["credentials"] = ["replaced" if current else None, "stored encrypted"]
    if changes:
        record_change(
            actor=actor,
            action="update" if current else "create",
            instance=connection,
            changes=changes,
        )
    return connection


@transaction.atomic
def connection_disconnect(*, actor: Actor, connection: SocialConnection) -> None:
    """Forget the connection and its credentials (settings, if any, apply again)."""
    locked = SocialConnection.objects.select_for_update().filter(pk=connection.pk).first()
    if locked is None:
        return
    record_change(
        actor=actor,
        action="delete",
        instance=locked,
        changes=diff(snapshot(locked, AUDITED), {}),
    )
    locked.delete()


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


def connection_test(*, connection: SocialConnection) -> CheckResult:
    """Call the network's identity endpoint with the stored credentials; record the outcome."""
    from tandem.marketing.social.adapters import adapter_for
    from tandem.marketing.social.base import NetworkError

    adapter = adapter_for(connection.network)
    if not readable(connection):
        result = CheckResult(
            False,
            _("The stored credentials cannot be read with the current key: enter them again."),
        )
    elif not adapter.configured():
        result = CheckResult(False, _("The connection lacks a value the network needs."))
    else:
        try:
            name = adapter.check()
            result = CheckResult(True, _("Connected as %(name)s.") % {"name": name[:200]})
        except NetworkError as exc:
            result = CheckResult(False, str(exc)[:500])
    SocialConnection.objects.filter(pk=connection.pk).update(
        checked_at=timezone.now(), check_ok=result.ok, check_message=result.message[:500]
    )
    return result


def network_states() -> list[dict[str, object]]:
    """Every network with its connection (or None) and whether settings alone configure it."""
    from tandem.marketing.social.adapters import adapter_for

    connections = {c.network: c for c in SocialConnection.objects.select_related("connected_by")}
    rows: list[dict[str, object]] = []
    for value, label in Network.choices:
        connection = connections.get(value)
        rows.append(
            {
                "network": value,
                "label": label,
                "connection": connection,
                "readable": readable(connection) if connection else False,
                "from_settings": connection is None and adapter_for(value).configured(),
            }
        )
    return rows
