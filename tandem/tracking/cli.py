"""`tandem source ...`: create, list and revoke event sources (write keys).

    tandem source create NAME [--kind website|blog|app|server]   prints the new write key
    tandem source list
    tandem source revoke NAME

Bad arguments give one line on stderr and exit code 2; Django must be set up by the caller.
"""

from __future__ import annotations

import argparse
import sys

from tandem.core.audit import Actor
from tandem.core.errors import InvalidInput


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tandem source", description="Event sources.")
    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = commands.add_parser("create", help="create a source and print its write key")
    create.add_argument("name")
    create.add_argument("--kind", default="website", choices=["website", "blog", "app", "server"])
    commands.add_parser("list", help="list sources")
    revoke = commands.add_parser("revoke", help="revoke a source's write key")
    revoke.add_argument("name")
    return parser


def source_main(argv: list[str]) -> int:
    from tandem.tracking import services
    from tandem.tracking.models import Source

    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if args.action == "create":
        try:
            _source, key = services.source_create(
                actor=Actor.system(), name=args.name, kind=args.kind
            )
        except InvalidInput as exc:
            print(f"tandem source: {exc.message}", file=sys.stderr)
            return 2
        print(key)
        return 0
    if args.action == "list":
        for source in Source.objects.order_by("name"):
            state = "revoked" if source.revoked_at else "active"
            print(f"{source.name}\t{source.kind}\t{source.key_prefix}…\t{state}")
        return 0
    found = Source.objects.filter(name=args.name).first()
    if found is None:
        print(f"tandem source: no source named {args.name!r}", file=sys.stderr)
        return 2
    services.source_revoke(actor=Actor.system(), source=found)
    print(f"revoked {found.name}")
    return 0
