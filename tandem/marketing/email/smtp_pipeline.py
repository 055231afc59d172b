"""Sending one message over an open smtplib connection with SMTP PIPELINING (RFC 2920).

`smtplib.SMTP.sendmail` waits for a reply after each of MAIL FROM, RCPT TO, DATA and the
message: four round trips. When the server advertises PIPELINING, `send` writes the three
commands at once and then reads their three replies, then sends the message: two round trips,
and no address parsing per message.

Invariants:
- the outcome is reported exactly as `smtplib.sendmail` reports it for one recipient:
  `SMTPSenderRefused`, `SMTPRecipientsRefused({to: (code, text)})` or `SMTPDataError`, after
  which the transaction is reset (RSET) and the connection can send the next message;
- without PIPELINING, with a non-ASCII address, or with an address containing characters that
  would break the command line, the message goes through `smtplib.sendmail` unchanged;
- the message bytes must already be CRLF; lines starting with "." are dot-stuffed here.
"""

from __future__ import annotations

import contextlib
import re
import smtplib

LEADING_DOT = re.compile(rb"(?m)^\.")
SAFE_ADDRESS = re.compile(r"[^\s<>\x00-\x1f\x7f]+")


def _reply(smtp: smtplib.SMTP) -> tuple[int, bytes]:
    return smtp.getreply()


def _reset(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


def send(smtp: smtplib.SMTP, envelope_from: str, to: str, raw: bytes) -> None:
    """Deliver `raw` from `envelope_from` to `to` over an open connection."""
    smtp.ehlo_or_helo_if_needed()
    plain = envelope_from.isascii() and to.isascii()
    if not (
        smtp.has_extn("pipelining")
        and plain
        and SAFE_ADDRESS.fullmatch(envelope_from)
        and SAFE_ADDRESS.fullmatch(to)
    ):
        smtp.sendmail(envelope_from, [to], raw)
        return
    smtp.send(f"MAIL FROM:<{envelope_from}>\r\nRCPT TO:<{to}>\r\nDATA\r\n")
    mail, rcpt, data = _reply(smtp), _reply(smtp), _reply(smtp)
    if mail[0] != 250:
        if data[0] == 354:  # a server that accepted DATA anyway: end the empty message
            smtp.send(b".\r\n")
            _reply(smtp)
        _reset(smtp)
        raise smtplib.SMTPSenderRefused(mail[0], mail[1], envelope_from)
    if rcpt[0] not in (250, 251):
        if data[0] == 354:
            smtp.send(b".\r\n")
            _reply(smtp)
        _reset(smtp)
        raise smtplib.SMTPRecipientsRefused({to: rcpt})
    if data[0] != 354:
        _reset(smtp)
        raise smtplib.SMTPDataError(data[0], data[1])
    body = LEADING_DOT.sub(b"..", raw)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    smtp.send(body + b".\r\n")
    code, text = _reply(smtp)
    if code != 250:
        _reset(smtp)
        raise smtplib.SMTPDataError(code, text)
