"""`createuser USERNAME --role ROLE [--team NAME] [--email E] [--password P]`: a user with a
role (and team), through `tandem.core.services.user_create`; the password is asked for, or
read from standard input, when not given."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.audit import Actor
from tandem.core.commands import TandemCommand, refused
from tandem.core.models import Role
from tandem.core.services import user_create


def _roles_help() -> str:
    return _("%(roles)s or %(last)s") % {
        "roles": "head, marketer, sales_rep, field_rep",
        "last": "admin",
    }


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(_("Password: "))
        if first != getpass.getpass(_("Password (again): ")):
            raise refused(_("the passwords do not match"))
        return first
    return sys.stdin.readline().rstrip("\r\n")


class Command(TandemCommand):
    help = gettext_lazy("create a user with a role (and team)")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help=_("the name the person signs in with"))
        parser.add_argument(
            "--role",
            required=True,
            help=_("what the person does: %(roles)s") % {"roles": _roles_help()},
        )
        parser.add_argument("--team", help=_("the team's name (see `tandem manage shell`)"))
        parser.add_argument("--email", default="", help=_("the person's email address"))
        parser.add_argument(
            "--password", help=_("the password (default: asked for, or read from standard input)")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        role = options["role"].strip().lower().replace("-", "_")
        if role not in Role.values:
            message = _("--role: %(role)s is not a role; choose %(roles)s")
            raise refused(message % {"role": repr(options["role"]), "roles": _roles_help()})
        password = options["password"] if options["password"] is not None else _read_password()
        if not password:
            raise refused(_("a password is required (--password, or type it when asked)"))
        user = user_create(
            actor=Actor.system(),
            username=options["username"],
            role=role,
            password=password,
            email=options["email"],
            team_name=options["team"],
        )
        names = {"username": user.username, "role": user.get_role_display()}
        if user.team:
            names["team"] = user.team.name
            self.stdout.write(_("Created user %(username)s (%(role)s) in team %(team)s.") % names)
        else:
            self.stdout.write(_("Created user %(username)s (%(role)s).") % names)
