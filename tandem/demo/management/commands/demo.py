"""`demo [--no-serve] [--addr ADDR:PORT] [--reset] [--size small|large] [--seed N]`: migrate,
load the demo company (`tandem.demo.services.demo_load`), print a login per role, then serve
Tandem with its background worker and scheduler (the `serve` command's server and flags)."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from tandem.core.commands import DEFAULT_ADDR, TandemCommand, addr_port
from tandem.core.management.commands.serve import add_server_arguments, background_of, serve
from tandem.core.models import Role
from tandem.demo.services import DEFAULT_SEED, demo_load
from tandem.demo.story import SIZES


class Command(TandemCommand):
    help = gettext_lazy("load demo data, print a login per role, and serve Tandem")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help=_("load the demo and print the logins, but do not serve"),
        )
        parser.add_argument(
            "--addr",
            type=addr_port,
            default=addr_port(DEFAULT_ADDR),
            metavar="ADDR:PORT",
            help=_("where to serve (default: %(addr)s)") % {"addr": DEFAULT_ADDR},
        )
        parser.add_argument(
            "--reset", action="store_true", help=_("delete the demo records and load them afresh")
        )
        parser.add_argument(
            "--size",
            choices=list(SIZES),
            default="small",
            help=_(
                "small (about 100 accounts, the default) or large (about 5,000 accounts and "
                "50,000 contacts, for benchmarks)"
            ),
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help=_("the story's random seed (default: %(seed)s); the same seed, the same story")
            % {"seed": DEFAULT_SEED},
        )
        add_server_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        summary = demo_load(reset=options["reset"], size=options["size"], seed=options["seed"])
        host, port = options["addr"]
        counts = {
            "accounts": summary.accounts,
            "contacts": summary.contacts,
            "touchpoints": summary.touchpoints,
        }
        if summary.created:
            loaded = _(
                "Demo data loaded: %(accounts)s accounts, %(contacts)s contacts, "
                "%(touchpoints)s touchpoints."
            )
        else:
            loaded = _(
                "Demo data already there: %(accounts)s accounts, %(contacts)s contacts, "
                "%(touchpoints)s touchpoints."
            )
        self.stdout.write(loaded % counts)
        login_url = f"http://{host}:{port}/login/"
        self.stdout.write(
            _("Sign in at %(url)s as (passwords are new on every run):") % {"url": login_url}
        )
        roles = [str(Role(login.role).label) for login in summary.logins]
        width = max([27, *map(len, roles)]) + 1  # 28 in English; Russian role names are longer
        username = pgettext("demo logins", "username:")
        password = pgettext("demo logins", "password:")
        for role, login in zip(roles, summary.logins, strict=True):
            self.stdout.write(
                f"  {role:<{width}} {username} {login.username:<10} {password} {login.password}"
            )
        self.stdout.flush()
        if not options["no_serve"]:
            serve(
                host,
                port,
                workers=options["workers"],
                threads=options["threads"],
                **background_of(options),
            )
