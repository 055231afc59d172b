"""Read one returned message (bounce DSN or ARF complaint) from stdin, as an MTA pipe delivers
it, e.g. in Postfix: `bounces: "|/path/manage.py marketing_returned_mail"` with
`recipient_delimiter = +`. Prints what was done; exits 1 when nothing was recognised."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from tandem.core.commands import TandemCommand
from tandem.marketing.email.engagement import process_returned_mail

MAX_BYTES = 10 * 1024 * 1024


class Command(TandemCommand):
    help = "Handle a bounce or complaint message read from stdin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--recipient", default="", help="the envelope recipient (VERP)")

    def handle(self, *args: Any, **options: Any) -> None:
        raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        if not raw.strip():
            raise CommandError("no message on stdin")
        if len(raw) > MAX_BYTES:
            raise CommandError("message larger than 10 MB: refused")
        result = process_returned_mail(raw, envelope_to=options["recipient"])
        self.stdout.write(json.dumps(result))
        if not any(result.values()):
            raise CommandError("not a bounce or complaint Tandem recognises")
