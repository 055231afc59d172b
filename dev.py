#!/usr/bin/env python3
"""Tandem's two commands, for a fresh machine with Python 3.11 and nothing else.

    python3 dev.py start   install Tandem, load demo data, serve it at http://127.0.0.1:8000
    python3 dev.py test    install Tandem and its test tools, run the whole test suite

Both create ./.venv on first use and install the exact versions pinned in requirements-base.lock
(runtime) or requirements.lock (runtime and test tools); later runs reuse it, and re-install
only when a lock file changed. Extra arguments after `test`
go to pytest (`python3 dev.py test -k contacts`); after `start`, to `tandem demo`.
Only the standard library is used here, on purpose.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
LOCKS = {"start": ROOT / "requirements-base.lock", "test": ROOT / "requirements.lock"}


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, env=env)  # noqa: S603


def ensure_environment(lock: Path) -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Tandem needs Python 3.11; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print(f"Creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{lock.stem}"
    digest = hashlib.sha256(lock.read_bytes() + (ROOT / "pyproject.toml").read_bytes())
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    pip: list[str | Path] = [BIN / "python", "-m", "pip", "--disable-pip-version-check"]
    run(*pip, "install", "--quiet", "--upgrade", "pip")
    run(*pip, "install", "--quiet", "-r", lock)
    run(*pip, "install", "--quiet", "--no-deps", "-e", ROOT)
    stamp.write_text(digest.hexdigest())


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in LOCKS:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_environment(LOCKS[command])
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        if command == "start":
            run(BIN / "tandem", "demo", *rest, env=env)
        else:
            run(BIN / "python", "-m", "pytest", *rest, env=env)
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
