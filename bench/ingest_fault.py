"""Fault test: PostgreSQL stopped in the middle of a load and started again.

    .venv/bin/python bench/ingest_fault.py [--seconds 12]

Starts a private PostgreSQL cluster (initdb in a temporary directory, its own port, run as the
`postgres` OS user when we are root), a Tandem server (gunicorn on 127.0.0.1) on it, and client
threads that send batches to /v1/batch and retry each batch until it is acknowledged. A third of
the way through, the cluster is stopped (immediate shutdown, like a crash) for a few
seconds and started again.
Afterwards: every acknowledged event is stored exactly once, and the clients did see 503s.
Bounded in time, targets 127.0.0.1 only, removes everything it made. Exit code 0 = passed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import glob
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import _env, _free_port, _prepare, _serve, _stop


def _pg_bin() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise SystemExit("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin")
    return str(Path(found[-1]).parent)


class Cluster:
    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.dir = tempfile.mkdtemp(prefix="tandem-fault-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        subprocess.run([*prefix, *args], check=True, capture_output=True)

    def init(self) -> None:
        self._run(f"{self.bin}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        self._run(
            f"{self.bin}/pg_ctl",
            "-D",
            self.data,
            "-w",
            "-l",
            os.path.join(self.dir, "log"),
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-w", "-m", mode, "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _debug(message: str) -> None:
    if os.environ.get("FAULT_DEBUG"):
        print(f"{time.monotonic():.1f} {message}", file=sys.stderr)


def run(seconds: float) -> dict[str, int]:
    import psycopg

    cluster = Cluster()
    cluster.init()
    cluster.start()
    server = None
    try:
        url = f"postgresql://postgres@127.0.0.1:{cluster.port}/tandem"
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True
        ) as admin:
            admin.execute("CREATE DATABASE tandem")
        env = _env(url, cluster.dir)
        env["TRACKING_BENCH"] = "1"
        key = _prepare(env)
        server, port = _serve(env, 2)
        auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        acked: list[str] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def client(index: int) -> None:
            run_id = uuid.uuid4().hex[:6]
            n = 0
            while time.monotonic() < deadline:
                ids = [f"{run_id}-{index}-{n + i}" for i in range(50)]
                n += 50
                body = json.dumps(
                    {
                        "batch": [
                            {
                                "type": "track",
                                "event": "Fault Test",
                                "anonymousId": f"v{index}",
                                "messageId": mid,
                            }
                            for mid in ids
                        ]
                    }
                ).encode()
                give_up = time.monotonic() + seconds + 30
                while time.monotonic() < give_up:  # retry this batch until acknowledged
                    status = 0
                    try:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                        conn.request(
                            "POST",
                            "/v1/batch",
                            body=body,
                            headers={"Content-Type": "application/json", "Authorization": auth},
                        )
                        status = conn.getresponse().status
                        conn.close()
                    except (OSError, http.client.HTTPException) as exc:
                        status = -1
                        if os.environ.get("FAULT_DEBUG"):
                            print(
                                f"{time.monotonic():.1f} client {index}: {exc!r}", file=sys.stderr
                            )
                    with lock:
                        statuses[status] = statuses.get(status, 0) + 1
                    _debug(f"client {index}: {status}")
                    if status == 200:
                        with lock:
                            acked.extend(ids)
                        break
                    time.sleep(0.3)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        time.sleep(seconds / 3)
        if not os.environ.get("FAULT_NO_STOP"):
            cluster.stop("immediate")  # like a crash: in-flight transactions are lost
            _debug("database stopped")
            time.sleep(5)
            cluster.start()
            _debug("database started")
        for t in threads:
            t.join(timeout=seconds + 60)
        _stop(server)
        server = None
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT message_id, count(*) FROM crm_touchpoint WHERE kind = 'Fault Test' "
                "GROUP BY message_id"
            ).fetchall()
        stored = {mid.split(":", 1)[1]: count for mid, count in rows}
        missing = [m for m in acked if m not in stored]
        duplicated = [m for m, c in stored.items() if c != 1]
        return {
            "acknowledged": len(acked),
            "stored": len(stored),
            "missing": len(missing),
            "duplicated": len(duplicated),
            "status_503": statuses.get(503, 0),
            "status_200": statuses.get(200, 0),
            "connection_errors": statuses.get(-1, 0),
        }
    finally:
        if server is not None:
            _stop(server)
        cluster.remove()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    if not 6 <= args.seconds <= 120:
        parser.error("--seconds must be between 6 and 120")
    result = run(args.seconds)
    print(" ".join(f"{k}={v}" for k, v in result.items()))
    ok = result["missing"] == 0 and result["duplicated"] == 0 and result["acknowledged"] > 0
    print("passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
