"""Tracked links: a UTM builder, short links /l/<token>, and a touchpoint per click.

Invariants:
- only links stored here redirect, and only to their stored destination (http or https, a
  public host: `public_url_problem`): the request cannot choose where it is sent, so there is
  no open redirect;
- a click is credited to the link's campaign and content and to the user who shared it (actor),
  in the sharer's department — a sales rep's LinkedIn share counts for that rep;
- per-recipient data in a link (contact, delivery time) is signed, so it cannot be forged.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from tandem.core.audit import Actor, diff, record_change, snapshot
from tandem.core.errors import InvalidInput
from tandem.core.models import User
from tandem.core.netguard import is_public_address
from tandem.crm import services as crm
from tandem.crm.models import Contact, Touchpoint
from tandem.tracking import bots
from tandem.tracking.channels import ChannelInputs, active_rules, classify
from tandem.tracking.models import TrackedLink

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
LINK_FIELDS = ("destination", *UTM_FIELDS, "sharer", "is_trap")
SIGNING_SALT = "tandem.tracking.link"


def build_utm_url(destination: str, **utm: str) -> str:
    """The destination with the given utm_* parameters set (other parameters kept)."""
    parts = urlsplit(destination)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in utm]
    query += [(k, v) for k, v in utm.items() if k in UTM_FIELDS and v]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet")


def public_url_problem(url: str) -> str:
    """Why `url` may not be a place Tandem sends visitors to ("" when it may): only http(s)
    addresses of public hosts, without a user name or password in them. The host is judged by
    its name or literal address (never resolved): IP literals must be global, and local names
    (localhost, *.local, *.internal, single labels) are refused."""
    if len(url) > 2000:
        return _("At most %(n)d characters.") % {"n": 2000}
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return _("Not a valid URL.")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _("Only http:// and https:// addresses are allowed.")
    if any(c.isspace() or ord(c) < 32 for c in url):
        return _("Not a valid URL.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return _("Put no user name or password in the address.")
    host = parts.hostname.rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        address = None
    if address is not None:
        if not is_public_address(address):
            return _("This address is private, loopback or reserved: links go to public hosts.")
        return ""
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES) or "." not in host:
        return _("This host name is local: links go to public hosts.")
    if host.replace(".", "").isdigit():  # 127.1, 2130706433: browsers read these as addresses
        return _("This address is private, loopback or reserved: links go to public hosts.")
    return ""


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(LINK_FIELDS)
    if unknown:
        raise InvalidInput({k: ["unknown field"] for k in sorted(unknown)})
    out = dict(data)
    if "destination" in out:
        destination = str(out["destination"] or "").strip()
        problem = public_url_problem(destination)
        if problem:
            raise InvalidInput({"destination": [problem]})
        out["destination"] = destination
    for field in UTM_FIELDS:
        if field in out:
            out[field] = str(out[field] or "").strip()[:100]
    sharer = out.pop("sharer", None)
    if sharer is not None:
        out["sharer_id"] = sharer.pk if isinstance(sharer, User) else int(sharer)
    return out


@transaction.atomic
def link_create(*, actor: Actor, destination: str, **data: Any) -> TrackedLink:
    cleaned = _clean({"destination": destination, **data})
    link = TrackedLink.objects.create(created_by=actor.user, **cleaned)
    record_change(actor=actor, action="create", instance=link, changes=diff({}, snapshot(link)))
    return link


@transaction.atomic
def link_update(*, actor: Actor, link: TrackedLink, **data: Any) -> TrackedLink:
    link = TrackedLink.objects.select_for_update().get(pk=link.pk)
    cleaned = _clean(data)
    before = snapshot(link)
    for field, value in cleaned.items():
        setattr(link, field, value)
    link.save(update_fields=list(cleaned))
    changes = diff(before, snapshot(link))
    if changes:
        record_change(actor=actor, action="update", instance=link, changes=changes)
    return link


def link_path(
    link: TrackedLink, *, contact_id: int | None = None, delivered_at: dt.datetime | None = None
) -> str:
    """The short path to share; with a contact and delivery time for one email's recipient."""
    path = reverse("tracking:link", args=[link.token])
    payload: dict[str, Any] = {}
    if contact_id is not None:
        payload["c"] = contact_id
    if delivered_at is not None:
        payload["d"] = int(delivered_at.timestamp())
    if payload:
        path += "?r=" + signing.dumps(payload, salt=SIGNING_SALT, compress=True)
    return path


def link_target(link: TrackedLink) -> str:
    return build_utm_url(link.destination, **{f: getattr(link, f) for f in UTM_FIELDS})


def read_recipient(value: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        data = signing.loads(value, salt=SIGNING_SALT)
    except signing.BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def link_click(
    *,
    link: TrackedLink,
    anonymous_id: str,
    ip: str,
    user_agent: str,
    meta: Mapping[str, str],
    recipient: dict[str, Any],
    referrer: str = "",
) -> Touchpoint:
    """Append the touchpoint of one click."""
    now = timezone.now()
    delivered_at = (
        dt.datetime.fromtimestamp(recipient["d"], tz=dt.UTC)
        if isinstance(recipient.get("d"), int)
        else None
    )
    reason = bots.bot_reason(
        user_agent=user_agent,
        ip=ip,
        meta=meta,
        kind="click",
        delivered_at=delivered_at,
        at=now,
        trap=link.is_trap,
    )
    inputs = ChannelInputs(
        source_kind="link",
        utm_source=link.utm_source,
        utm_medium=link.utm_medium,
        utm_campaign=link.utm_campaign,
    )
    _version, rules = active_rules()
    channel, department = classify(inputs, rules)
    sharer = User.objects.filter(pk=link.sharer_id).first() if link.sharer_id else None
    props: dict[str, Any] = {
        "type": "link_click",
        "ci": inputs.as_dict(),
        "link": link.token,
        "destination": link.destination,
        "ip": ip,
        "user_agent": user_agent[:500],
    }
    if referrer:
        props["referrer"] = referrer[:2000]
    if sharer is not None and sharer.department:
        department = str(sharer.department)
        props["department_override"] = department
    if reason:
        props["bot_reason"] = reason
    contact = None
    if isinstance(recipient.get("c"), int):
        contact = Contact.objects.filter(pk=recipient["c"]).first()
    return crm.touchpoint_record(
        contact=contact,
        anonymous_id=anonymous_id,
        occurred_at=now,
        channel=channel,
        department=department,
        kind="link_click",
        campaign=link.utm_campaign,
        content=link.utm_content,
        actor=sharer,
        properties=props,
        is_bot=bool(reason),
        source="tracked_link",
    )
