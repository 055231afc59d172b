"""`source create NAME [--kind website|blog|app|server]` (prints the new write key),
`source list` (tab-separated: name, kind, key prefix, state), `source revoke NAME`: event
sources and their write keys. `list` keeps its columns and the kinds in every language."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from tandem.core.audit import Actor
from tandem.core.commands import TandemCommand, refused
from tandem.tracking import services
from tandem.tracking.models import Source


class Command(TandemCommand):
    help = gettext_lazy("create, list and revoke event sources (tracking write keys)")

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        created = _("create a source and print its write key")
        create = actions.add_parser("create", help=created, description=created)
        create.add_argument("name", help=_("the source's name"))
        create.add_argument(
            "--kind",
            default="website",
            choices=["website", "blog", "app", "server"],
            help=_("what sends the events (default: website)"),
        )
        listed = _("list sources")
        actions.add_parser("list", help=listed, description=listed)
        revoked = _("revoke a source's write key")
        revoke = actions.add_parser("revoke", help=revoked, description=revoked)
        revoke.add_argument("name", help=_("the source's name"))

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            _source, key = services.source_create(
                actor=Actor.system(), name=options["name"], kind=options["kind"]
            )
            self.stdout.write(key)
        elif action == "list":
            for source in Source.objects.order_by("name"):
                state = (
                    pgettext("event source", "revoked")
                    if source.revoked_at
                    else pgettext("event source", "active")
                )
                self.stdout.write(f"{source.name}\t{source.kind}\t{source.key_prefix}…\t{state}")
        else:
            found = Source.objects.filter(name=options["name"]).first()
            if found is None:
                raise refused(_("no source named %(name)s") % {"name": repr(options["name"])})
            services.source_revoke(actor=Actor.system(), source=found)
            self.stdout.write(_("revoked %(name)s") % {"name": found.name})
