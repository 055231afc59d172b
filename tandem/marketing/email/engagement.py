"""Opens, clicks, unsubscribes, bounces and complaints coming back from sent messages.

Invariants:
- opens and clicks become touchpoints (channel "email", department "marketing", kinds
  "email_opened"/"email_clicked"); scanners, prefetches and proxied opens are stored flagged as
  bots (`tracking.bots.bot_reason`) and never set a recipient's first open/click;
- a hard bounce (DSN status 5.x.x) or a complaint (ARF feedback report) suppresses the address;
  a complaint also withdraws every subscription; temporary failures (4.x.x) only mark the row;
- a recipient is found by its 128-bit token (the VERP address names it), never by guessing.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Mapping
from email.message import Message

from django.db import transaction
from django.utils import timezone

from tandem.crm import services as crm
from tandem.crm.models import Contact
from tandem.marketing import consent
from tandem.marketing.email.sending import suppress
from tandem.marketing.models import EmailRecipient, Suppression
from tandem.tracking.services import bots  # tracking's bot rules, through its services

VERP = re.compile(r"bounces\+([A-Za-z0-9_-]{8,40})@", re.IGNORECASE)


def recipient_for(token: str) -> EmailRecipient | None:
    if not token or len(token) > 40:
        return None
    return EmailRecipient.objects.select_related("send").filter(token=token).first()


@transaction.atomic
def record_open(
    *, token: str, user_agent: str, ip: str, meta: Mapping[str, str]
) -> EmailRecipient | None:
    recipient = recipient_for(token)
    if recipient is None or recipient.status != EmailRecipient.Status.SENT:
        return None
    reason = bots.bot_reason(user_agent=user_agent, ip=ip, meta=meta, kind="open")
    _touch(recipient, "email_opened", reason, {"user_agent": user_agent[:300]})
    if not reason:
        EmailRecipient.objects.filter(pk=recipient.pk, opened_at__isnull=True).update(
            opened_at=timezone.now()
        )
    return recipient


@transaction.atomic
def record_click(
    *, token: str, url: str, user_agent: str, ip: str, meta: Mapping[str, str]
) -> EmailRecipient | None:
    recipient = recipient_for(token)
    if recipient is None or recipient.status != EmailRecipient.Status.SENT:
        return None
    now = timezone.now()
    reason = bots.bot_reason(
        user_agent=user_agent,
        ip=ip,
        meta=meta,
        kind="click",
        delivered_at=recipient.sent_at,
        at=now,
    )
    _touch(recipient, "email_clicked", reason, {"url": url[:500]})
    if not reason:
        EmailRecipient.objects.filter(pk=recipient.pk, clicked_at__isnull=True).update(
            clicked_at=now
        )
        EmailRecipient.objects.filter(pk=recipient.pk, opened_at__isnull=True).update(opened_at=now)
    return recipient


def _touch(recipient: EmailRecipient, kind: str, reason: str, extra: dict[str, str]) -> None:
    contact = Contact.objects.filter(pk=recipient.contact_id).first()
    if contact is None:
        return
    properties: dict[str, object] = {
        "send": recipient.send_id,
        "variant": recipient.variant,
        **extra,
    }
    if reason:
        properties["bot_reason"] = reason
    crm.touchpoint_record(
        channel="email",
        kind=kind,
        department="marketing",
        contact=contact,
        campaign=recipient.send.campaign,
        content=recipient.send.name[:200],
        properties=properties,
        source="email",
        is_bot=bool(reason),
    )


def _tokens_in(msg: Message) -> list[str]:
    found: list[str] = []
    for header in ("To", "Delivered-To", "X-Original-To", "Envelope-To"):
        for value in msg.get_all(header) or []:
            found += VERP.findall(str(value))
    return found


def _walk(msg: Message) -> list[Message]:
    return list(msg.walk())


@transaction.atomic
def process_returned_mail(raw: bytes, *, envelope_to: str = "") -> dict[str, list[str]]:
    """Handle a bounce (RFC 3464 DSN) or complaint (RFC 5965 ARF) sent to a VERP address.
    Returns {"suppressed": [...], "temporary": [...], "complaints": [...]}."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    tokens = VERP.findall(envelope_to) + _tokens_in(msg)
    recipient = recipient_for(tokens[0]) if tokens else None
    result: dict[str, list[str]] = {"suppressed": [], "temporary": [], "complaints": []}
    parts = _walk(msg)
    feedback = [p for p in parts if p.get_content_type() == "message/feedback-report"]
    if feedback:
        if recipient is not None:
            suppress(email=recipient.email, reason=Suppression.Reason.COMPLAINT, detail="ARF")
            contact = Contact.objects.filter(pk=recipient.contact_id).first()
            if contact is not None:
                consent.unsubscribe(contact=contact, source="complaint")
            result["complaints"].append(recipient.email)
        return result
    for part in parts:
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:]:  # the first block is per-message, the rest per-recipient
            if not isinstance(block, Message):
                continue
            status = str(block.get("Status", "")).strip()
            action = str(block.get("Action", "")).strip().lower()
            final = str(block.get("Final-Recipient", "")).partition(";")[2].strip().lower()
            address = recipient.email if recipient is not None else final
            if not address:
                continue
            if status.startswith("5") or (action == "failed" and not status.startswith("4")):
                suppress(
                    email=address,
                    reason=Suppression.Reason.BOUNCE,
                    detail=f"{status} {block.get('Diagnostic-Code', '')}"[:300],
                )
                result["suppressed"].append(address)
                if recipient is not None:
                    EmailRecipient.objects.filter(pk=recipient.pk).update(bounced_at=timezone.now())
            elif status.startswith("4") or action == "delayed":
                result["temporary"].append(address)
    return result
