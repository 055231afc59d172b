"""The baseline of bench/contacts_list.py's served leg: each page as nothing but its raw SQL.

A bare WSGI application (no framework) that gunicorn serves exactly as `tandem serve` serves
Tandem. `GET /<n>` runs the statements of case n — every statement the Tandem page runs for
that request (the session and user look-ups too), captured from the page itself — with psycopg
on one connection per thread, and writes all their rows: as JSON for an API case, as an HTML
table (every cell escaped) for a page. So it is the page's SQL plus the least work that puts the
rows on the wire: a reference printed beside the budgets (what the database and the machine cost
at the time of the run), not a goal.

The cases come from the JSON file named by BENCH_RAW_PAGES: [{"kind": "json"|"html",
"statements": ["SELECT ...", ...]}, ...].
"""

from __future__ import annotations

import html
import json
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
import pydantic_core

CASES: list[dict[str, Any]] = json.loads(open(os.environ["BENCH_RAW_PAGES"]).read())  # noqa: SIM115
DSN = os.environ["BENCH_RAW_DSN"]
_local = threading.local()


def _connection() -> psycopg.Connection[Any]:
    conn = getattr(_local, "conn", None)
    if conn is None:
        # client-side binding, as Django uses: the planner sees the same literal SQL
        conn = _local.conn = psycopg.connect(
            DSN, autocommit=True, cursor_factory=psycopg.ClientCursor
        )
    return conn


def _html(results: list[list[tuple[Any, ...]]]) -> bytes:
    out = ["<!doctype html><html><body><table>"]
    for rows in results:
        for row in rows:
            out.append("<tr>")
            out.extend(f"<td>{html.escape(str(value))}</td>" for value in row)
            out.append("</tr>")
    out.append("</table></body></html>")
    return "".join(out).encode()


def application(
    environ: dict[str, Any], start_response: Callable[[str, list[tuple[str, str]]], Any]
) -> Iterable[bytes]:
    try:
        case = CASES[int(environ["PATH_INFO"].strip("/"))]
    except (ValueError, IndexError):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such case"]
    conn = _connection()
    results = [conn.execute(sql).fetchall() for sql in case["statements"]]
    if case["kind"] == "json":
        body = pydantic_core.to_json({"results": results}, fallback=str)
        content_type = "application/json"
    else:
        body = _html(results)
        content_type = "text/html; charset=utf-8"
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
