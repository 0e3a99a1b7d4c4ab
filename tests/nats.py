"""Real ``nats-server`` processes with JetStream for the tests and the load bench: one node or
a cluster on free loopback ports, each with its own store directory, killed at the end.

Missing ``nats-server`` raises :class:`RuntimeError`: the JetStream path must be tested, not
skipped (``bash scripts/setup test`` apt-get installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["NatsCluster", "free_port", "wait_for_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def _binary() -> str:
    found = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
    )
    if found is None:
        raise RuntimeError(
            "nats-server not found: run `bash scripts/setup test` (it apt-get installs it)"
        )
    return found


class NatsCluster:
    """``size`` JetStream servers (a cluster with routes when more than one)."""

    def __init__(self, size: int = 1) -> None:
        self.size = size
        self.dir = Path(tempfile.mkdtemp(prefix="tracker-nats-"))
        self.ports = [free_port() for _ in range(size)]
        self.cluster_ports = [free_port() for _ in range(size)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * size

    @property
    def urls(self) -> list[str]:
        return [f"nats://127.0.0.1:{port}" for port in self.ports]

    def _command(self, i: int) -> list[str]:
        command = [
            _binary(),
            "--jetstream",
            "--store_dir",
            str(self.dir / f"n{i}"),
            "--addr",
            "127.0.0.1",
            "--port",
            str(self.ports[i]),
            "--server_name",
            f"n{i}",
        ]
        if self.size > 1:
            routes = ",".join(
                f"nats://127.0.0.1:{p}" for j, p in enumerate(self.cluster_ports) if j != i
            )
            command += [
                "--cluster_name",
                "tracker",
                "--cluster",
                f"nats://127.0.0.1:{self.cluster_ports[i]}",
                "--routes",
                routes,
            ]
        return command

    def start_node(self, i: int) -> None:
        log = open(self.dir / f"n{i}.log", "ab")
        self.procs[i] = subprocess.Popen(self._command(i), stdout=log, stderr=log)
        log.close()

    def start(self) -> NatsCluster:
        for i in range(self.size):
            self.start_node(i)
        for port in self.ports:
            wait_for_port(port)
        return self

    def kill_node(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None:
            proc.kill()
            proc.wait()
            self.procs[i] = None

    def stop(self) -> None:
        for i in range(self.size):
            self.kill_node(i)
        shutil.rmtree(self.dir, ignore_errors=True)
