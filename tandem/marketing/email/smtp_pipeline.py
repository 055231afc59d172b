"""Sending messages over an open smtplib connection with SMTP PIPELINING (RFC 2920).

`Pipeline` (used by sends) goes further and pipelines across messages: one write and one read
per message (see its docstring). `send` below handles one message on its own.

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

The bytes given here go on the wire as they are: callers pass them through
`tandem.core.mail.outgoing` (Date, Message-ID, DKIM) first.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from collections.abc import Callable
from typing import Any

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


Report = Callable[[Any, smtplib.SMTPException | None], None]


class Pipeline:
    """Pipelining across messages: one write and one read per message.

    RFC 2920 lets the message content be the first "command" of a group, so the end of message
    k-1 and the MAIL FROM / RCPT TO / DATA of message k go in ONE write, and their four replies
    are read together. A message's outcome is therefore known when the next one is submitted
    (or at `flush`). Outcomes go to `report(key, None | SMTPException)` in submission order; a
    refusal is the same exception `send` raises for it.

    Invariants:
    - a message is on the wire only after its DATA was answered 354; the body of message k is
      sent with the next group or by `flush`, never twice;
    - if `report` raises (a temporary error the caller gives up on, a crash hook) or anything
      else fails, the connection is closed without ending a message waiting in DATA, so the
      server discards it (the caller puts it back to pending); nothing is left half-sent;
    - without PIPELINING, or for an address `send` would not pipeline, a message goes through
      `smtplib.sendmail` after the pending one is flushed (the same outcomes, synchronously).
    """

    def __init__(self, smtp: smtplib.SMTP, report: Report) -> None:
        self.smtp = smtp
        self.report = report
        self.waiting: tuple[Any, bytes] | None = None  # (key, stuffed body + ".") after a 354

    def submit(self, key: Any, envelope_from: str, to: str, raw: bytes) -> None:
        smtp = self.smtp
        try:
            smtp.ehlo_or_helo_if_needed()
            if not (
                smtp.has_extn("pipelining")
                and envelope_from.isascii()
                and to.isascii()
                and SAFE_ADDRESS.fullmatch(envelope_from)
                and SAFE_ADDRESS.fullmatch(to)
            ):
                self.flush()
                try:
                    smtp.sendmail(envelope_from, [to], raw)
                except (
                    smtplib.SMTPSenderRefused,
                    smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPDataError,
                ) as exc:
                    self.report(key, exc)
                    return
                self.report(key, None)
                return
            group = f"MAIL FROM:<{envelope_from}>\r\nRCPT TO:<{to}>\r\nDATA\r\n".encode()
            previous, self.waiting = self.waiting, None
            smtp.send(previous[1] + group if previous is not None else group)
            end = _reply(smtp) if previous is not None else (250, b"")
            mail, rcpt, data = _reply(smtp), _reply(smtp), _reply(smtp)
            refused: smtplib.SMTPException | None = None
            if mail[0] != 250:
                refused = smtplib.SMTPSenderRefused(mail[0], mail[1], envelope_from)
            elif rcpt[0] not in (250, 251):
                refused = smtplib.SMTPRecipientsRefused({to: rcpt})
            elif data[0] != 354:
                refused = smtplib.SMTPDataError(data[0], data[1])
            if refused is None:
                body = LEADING_DOT.sub(b"..", raw)
                self.waiting = (key, body + (b".\r\n" if body.endswith(b"\r\n") else b"\r\n.\r\n"))
            if previous is not None:
                self.report(previous[0], None if end[0] == 250 else smtplib.SMTPDataError(*end))
            if refused is not None:
                if data[0] == 354:  # a server that accepted DATA anyway: end the empty message
                    smtp.send(b".\r\n")
                    _reply(smtp)
                _reset(smtp)
                self.report(key, refused)
        except BaseException:
            self.abort()
            raise

    def flush(self) -> None:
        """Finish the message waiting in DATA, if any, and report it."""
        if self.waiting is None:
            return
        (key, body), self.waiting = self.waiting, None
        try:
            self.smtp.send(body)
            code, text = _reply(self.smtp)
            if code != 250:
                _reset(self.smtp)
            self.report(key, None if code == 250 else smtplib.SMTPDataError(code, text))
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop the connection (after any exception its state is unknown; a message waiting in
        DATA is then never completed). The run that called us is ending anyway."""
        self.waiting = None
        self.smtp.close()
