"""The wheel in a fresh virtualenv with both extras (one venv; pip's cache makes reruns quick):
the portable package imports, `tracker-collector` serves a site and a build from the working
directory, the QA plugin is registered with pytest."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.wheel_build import build_wheel

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv holding only the wheel with `[collector,qa]` and their dependencies."""
    tmp = tmp_path_factory.mktemp("venv")
    wheel = build_wheel(tmp)
    subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True)
    python = tmp / "venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[collector,qa]"],
        check=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    return tmp / "venv"


def _run(venv: Path, *code: str, cwd: Path) -> str:
    reply = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "\n".join(code)],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return reply.stdout.strip()


def test_portable_package_is_installed(venv: Path, tmp_path: Path) -> None:
    out = _run(
        venv,
        "import json, tracker",
        "t = tracker.get_tracker()",
        "t.set_user_token('from-wheel')",
        "print(json.dumps([tracker.__file__, t.get_user_token()]))",
        cwd=tmp_path,
    )
    where, token = json.loads(out)
    assert where.startswith(str(venv)) and where.endswith("tracker/__init__.py")
    assert token == "from-wheel"


def test_extras_bring_the_server_and_qa_dependencies(venv: Path, tmp_path: Path) -> None:
    out = _run(
        venv,
        "import json, starlette, uvicorn, jwt, psycopg, pytest, pytest_playwright",
        "from importlib.metadata import entry_points",
        "print(json.dumps({ep.name: ep.value for ep in entry_points(group='pytest11')}))",
        cwd=tmp_path,
    )
    assert json.loads(out).get("tracker_qa") == "tracker_qa.plugin"


@pytest.mark.skipif(
    not (ROOT / "tracker_qa" / "plugin.py").exists(), reason="the QA plugin is not written yet"
)
def test_qa_plugin_loads_in_pytest(venv: Path, tmp_path: Path) -> None:
    reply = subprocess.run(
        [str(venv / "bin" / "pytest"), "--trace-config", "--co", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert "tracker_qa" in reply.stdout, reply.stdout + reply.stderr


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(venv: Path, tmp_path: Path) -> Iterator[str]:
    """`tracker-collector` run with no flags but --port in a directory holding web/ and dist/
    (the build from this checkout), as a deployment from the wheel would; its base URL."""
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("<p>site</p>")
    if not (ROOT / "dist" / "manifest.json").exists():
        subprocess.run([sys.executable, "build.py"], cwd=ROOT, check=True, capture_output=True)
    (tmp_path / "dist").symlink_to(ROOT / "dist")
    port = _free_port()
    log = tmp_path / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(venv / "bin" / "tracker-collector"), "--port", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log.read_text(errors="replace")) from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert (tmp_path / "tracker.db").exists(), "the default database is in the working directory"


def test_tracker_collector_serves_site_and_build_from_working_directory(served: str) -> None:
    with urllib.request.urlopen(served + "/healthz") as reply:
        assert json.load(reply) == {"ok": True}
    with urllib.request.urlopen(served + "/") as reply:
        assert reply.read() == b"<p>site</p>"
    with urllib.request.urlopen(served + "/dist/manifest.json") as reply:
        manifest = json.load(reply)
    with urllib.request.urlopen(served + "/dist/tracker.js") as reply:
        assert reply.headers["access-control-allow-origin"] == "*"
        assert reply.headers["content-type"] == "text/javascript; charset=utf-8"
        assert "immutable" not in reply.headers["cache-control"]
    wasm = served + "/dist/" + manifest["micropython/"] + "micropython.wasm"
    with urllib.request.urlopen(wasm) as reply:
        assert reply.headers["content-type"] == "application/wasm"
        assert reply.headers["access-control-allow-origin"] == "*"
        assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"


def _help(venv: Path, command: str, cwd: Path) -> str:
    """What an installed command prints for ``--help``."""
    reply = subprocess.run(
        [str(venv / "bin" / command), "--help"],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return reply.stdout


def test_tracker_collector_help(venv: Path, tmp_path: Path) -> None:
    shown = _help(venv, "tracker-collector", tmp_path)
    assert "--dist" in shown and "--web" in shown


def test_tracker_loader_is_installed_with_the_collector(venv: Path, tmp_path: Path) -> None:
    shown = _help(venv, "tracker-loader", tmp_path)
    assert "--sink" in shown and "--db" in shown
