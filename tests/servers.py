"""Real servers for the shared-store tests and bench: PostgreSQL from the system's packages and
moto's standalone S3 server, each on a free port of 127.0.0.1 in a temp dir, stopped after."""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_PASSWORD = "pg-Secret-4711"
S3_KEY_ID = "AKIDPERFGATETEST"
S3_SECRET = "s3-Secret-Key-0815"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def why_no_postgres() -> str | None:
    if pg_bindir() is None:
        return "PostgreSQL is not installed (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user to run the server"
    return None


def why_no_moto() -> str | None:
    try:
        import moto.server  # noqa: F401
    except ImportError as exc:
        return f"moto's S3 server is not installed ({exc}): pip install 'moto[server]'"
    return None


class Postgres:
    """A throwaway cluster: password auth over TCP on 127.0.0.1, trust on its own socket."""

    def __init__(self) -> None:
        self.bindir = pg_bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="perfgate-pg-"))
        self.port = free_port()
        self.user = "perf"
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self.as_postgres:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.dir / "data"), "-U", self.user, "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8")
        self.start()
        self.sql(f"ALTER USER {self.user} PASSWORD '{PG_PASSWORD}'")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                        "-c max_connections=100 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "stop",
                  check=False)

    def sql(self, statement: str, db: str = "postgres") -> str:
        return self._run("psql", "-h", str(self.dir), "-p", str(self.port), "-U", self.user,
                         "-d", db, "-At", "-c", statement).stdout

    def new_database(self) -> str:
        name = f"lake_{os.urandom(4).hex()}"
        self.sql(f"CREATE DATABASE {name}")
        return name

    def catalog(self, db: str, with_password: bool = True) -> str:
        pw = f" password={PG_PASSWORD}" if with_password else ""
        return f"postgres:dbname={db} host=127.0.0.1 port={self.port} user={self.user}{pw}"

    def dump(self, db: str) -> str:
        return self._run("pg_dump", "-h", str(self.dir), "-p", str(self.port), "-U",
                         self.user, db).stdout

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class Moto:
    """moto's S3 server in a child process; its request log shows when a push writes."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="perfgate-moto-"))
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.dir / "moto.log"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("moto_server did not start")

    def signal(self, sig: int) -> None:
        """SIGSTOP freezes the server mid-request (SIGCONT resumes it)."""
        os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=S3_KEY_ID,
                            aws_secret_access_key=S3_SECRET, region_name="us-east-1")

    def new_bucket(self) -> str:
        name = f"perf-{os.urandom(4).hex()}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": S3_KEY_ID,
                "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_REGION": "us-east-1"}

    def objects(self, bucket: str) -> dict[str, bytes]:
        c = self.client()
        keys = [o["Key"] for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for o in page.get("Contents", [])]
        return {k: c.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
