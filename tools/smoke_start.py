"""Smoke check for the README's first command, run in the environment it installed.

Imports every Tandem module (tests excluded) and renders the sign-in page and the API schema,
so a runtime dependency missing from requirements-base.lock fails CI instead of a new user.
Usage: <venv>/bin/python tools/smoke_start.py   (DATABASE_URL/TANDEM_VAR_DIR as for the demo)
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import tandem

    failed = []
    for module in pkgutil.walk_packages(tandem.__path__, "tandem."):
        if ".tests" in module.name or module.name.endswith(".conftest"):
            continue
        try:
            importlib.import_module(module.name)
        except Exception as exc:  # report every module that does not import
            failed.append(f"{module.name}: {exc!r}")
    from django.test import Client

    client = Client()
    for path in ("/login/", "/api/v1/openapi.json"):
        status = client.get(path).status_code
        if status != 200:
            failed.append(f"GET {path} answered {status}")
    for line in failed:
        print(line, file=sys.stderr)
    print(f"smoke: {'FAILED' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
