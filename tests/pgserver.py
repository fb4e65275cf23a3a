"""A throwaway PostgreSQL server for tests and benchmarks: initdb + pg_ctl in a temporary folder.

Found through `LABELER_PG_BIN`, `pg_config --bindir`, or Debian's /usr/lib/postgresql/*/bin.
initdb refuses to run as root, so as root the binaries run as the `postgres` system user.
`LABELER_TEST_DATABASE_URL` skips all this and uses a server you already run.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries on this machine, or the server would not start."""


def find_pg_bin() -> Path:
    """The folder holding initdb and pg_ctl."""
    candidates = [os.environ.get("LABELER_PG_BIN", "")]
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install the `postgresql` package "
        "or set LABELER_PG_BIN"
    )


def _version_key(path: str) -> int:
    part = Path(path).parent.name
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """A running throwaway server; `url` connects as a superuser to the `postgres` database."""

    folder: Path
    port: int
    bin: Path
    as_postgres_user: bool

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://labeler@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://labeler@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres_user:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=False)

    def pg_ctl(self, action: str, mode: str = "fast") -> None:
        """start / stop / restart the server (used by fault tests too).

        `mode` is how stop and restart shut down: "fast" (roll back sessions, clean shutdown) or
        "immediate" (abort every process, like a crash: the next start replays the WAL).
        """
        opts = f"-k {self.folder} -p {self.port} -c listen_addresses=127.0.0.1 {self._fast_opts}"
        args = ["pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w"]
        if action in ("start", "restart"):
            args += ["-o", opts]
        args += ["-m", mode, action] if action != "start" else [action]
        res = self._run(*args)
        if res.returncode != 0:
            log = (self.folder / "log").read_text(errors="replace")[-2000:] if (self.folder / "log").exists() else ""
            raise PostgresUnavailable(f"pg_ctl {action} failed: {res.stderr.strip()}\n{log}")

    def running(self) -> bool:
        """Whether the server is up (`pg_ctl status`)."""
        return self._run("pg_ctl", "status", "-D", str(self.folder / "data")).returncode == 0

    durable: bool = False

    @property
    def _fast_opts(self) -> str:
        # Tests trade durability for speed; benchmarks that claim durability keep fsync on.
        return "" if self.durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        try:
            self.pg_ctl("stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(durable: bool = False) -> PostgresServer:
    """initdb a fresh cluster in a temporary folder and start it on a free port."""
    pg_bin = find_pg_bin()
    as_root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="labeler-pg-"))
    if as_root:
        shutil.chown(folder, "postgres")
    server = PostgresServer(folder, _free_port(), pg_bin, as_root, durable)
    res = server._run("initdb", "-D", str(folder / "data"), "-A", "trust", "-U", "labeler", "-E", "UTF8")
    if res.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {res.stderr.strip()}")
    server.pg_ctl("start")
    return server
