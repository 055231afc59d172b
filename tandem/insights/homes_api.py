"""API of the role home pages: the numbers `tandem.insights.homes` computes for the caller's
role, the same the caller's home page shows.

    GET /api/v1/insights/home

Every answer has `role`, `today` and `time_zone` (the caller's), and `goals` (the goals running
today: joint, the caller's team's and the caller's own quota, each with `target` and what the
caller sees achieved, `actual`, as decimal strings). A marketer's adds the quarter's MQLs against
the MQL goal, acceptance and rejection reasons, and campaigns; a sales rep's the open hand-offs
with their SLA clocks, tasks due, open deals by stage and quota; a field rep's the same plus the
accounts not touched for `quiet_days`; an admin's users, invitations and the health of
background work. The head's home is the cockpit
(`GET /api/v1/insights/summary`); for the head this gives the goals.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from tandem.core.api_auth import caller
from tandem.core.api_errors import Error
from tandem.insights import homes

router = Router(tags=["insights"])


@router.get("/home", response={200: dict[str, Any], 401: Error, 429: Error})
def home(request: HttpRequest) -> dict[str, Any]:
    """The numbers of the caller's home page."""
    return homes.home_for(caller(request).user).as_json()
