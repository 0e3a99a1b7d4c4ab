"""A throwaway PostgreSQL cluster for tests and the load benchmark: temp dir, unix socket only.

Debian's server binaries (``/usr/lib/postgresql/<version>/bin``) are run as the
unprivileged ``postgres`` user when we are root (the server refuses to run as root).
Missing binaries raise :class:`RuntimeError`: the PostgreSQL path must be tested, not
skipped (``bash scripts/setup test`` installs them).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

__all__ = ["Cluster", "server_bin"]

_counter = threading.Lock()


def server_bin(name: str) -> Path:
    """``initdb``/``pg_ctl`` from the newest PostgreSQL installed under /usr/lib/postgresql."""
    found = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    raise RuntimeError(
        f"PostgreSQL's {name} not found under /usr/lib/postgresql/*/bin: "
        "run `bash scripts/setup test` (it apt-get installs postgresql)"
    )


class Cluster:
    """One PostgreSQL server in a temporary directory, listening on a unix socket only.

    ``durable=False`` (tests) turns off fsync and synchronous commit for speed;
    the load benchmark keeps the defaults so it measures a real commit.
    """

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="trk-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self._databases = 0
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "postgres"
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.root.chmod(0o755)

    def _run(self, *command: str | Path) -> None:
        argv = [str(c) for c in command]
        if self._user is not None:
            argv = ["runuser", "-u", self._user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )

    def start(self) -> Cluster:
        """initdb and start the server; returns self."""
        self._run(
            server_bin("initdb"),
            "-D",
            self.data,
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.resume()
        return self

    def resume(self) -> None:
        """Start the server (again)."""
        options = f"-k {self.socket_dir} -c listen_addresses= -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            server_bin("pg_ctl"),
            "-D",
            self.data,
            "-l",
            self.root / "server.log",
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def pause(self) -> None:
        """Stop the server, keeping its data (``resume`` starts it again): a database outage."""
        self._run(server_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL for ``database`` over the unix socket."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def _next_name(self) -> str:
        with _counter:
            self._databases += 1
            return f"t{self._databases}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = self._next_name()
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def create_schema(self) -> str:
        """A URL whose tables land in a new empty schema of the ``postgres`` database: as
        isolated as a new database for one test, without copying a template each time."""
        import psycopg

        name = self._next_name()
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self.url()}&options=-csearch_path%3D{name}"

    def stop(self) -> None:
        """Stop the server and delete its directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(server_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
