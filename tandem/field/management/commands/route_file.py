"""`route_file PATH [--json] [--days N]` (`tandem route-file ...`): order the visits in a CSV
file with the field routing solver.

The file has ``id,lat,lon`` and optional ``open,close`` (HH:MM) and ``minutes``; the first row is
the start and end point (its hours are the working day). ``--json`` prints
``{"order": [ids...], "distance_km": ...}`` (great-circle kilometres, rounded to metres).
A file that cannot be read prints one line naming the problem and exits with 2. No database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core.commands import TandemCommand, refused
from tandem.field import routing


class Command(TandemCommand):
    help = gettext_lazy("order the visits in a CSV file (id,lat,lon[,open,close,minutes])")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.description = _(
            "Order the visits in a CSV file of id,lat,lon (optional open,close as HH:MM and "
            "minutes); the first row is the start and end point."
        )
        parser.add_argument("path", type=Path, help=_("the CSV file"))
        parser.add_argument("--json", action="store_true", help=_("print JSON"))
        parser.add_argument(
            "--days", type=int, default=1, help=_("working days to spread the visits over")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        days: int = options["days"]
        if not 1 <= days <= 31:
            raise refused(_("--days must be between 1 and 31"))
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise refused(
                _("%(path)s: cannot read: %(error)s") % {"path": path, "error": exc}
            ) from None
        try:
            start, stops = routing.read_stops(text)
        except routing.RouteFileError as exc:
            raise refused(f"{path}: {exc}") from None
        plan = routing.solve(start, stops, days=days)
        if options["json"]:
            out: dict[str, Any] = {"order": plan.order, "distance_km": plan.distance_km}
            if days > 1:
                out["days"] = plan.days
            self.stdout.write(json.dumps(out, ensure_ascii=False))
            return
        entered = routing.route_distance(start, [stops])
        self.stdout.write(_("order: %(order)s") % {"order": " ".join(plan.order)})
        self.stdout.write(
            _("distance: %(km).3f km (entered order %(entered).3f km)")
            % {"km": plan.distance_km, "entered": entered / 1000}
        )
        if not plan.feasible:
            self.stdout.write(_("warning: the opening hours or the working day cannot all be met"))
