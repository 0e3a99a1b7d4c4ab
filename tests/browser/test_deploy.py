"""Issue 14: dist/ from another origin, a sandboxed iframe, a strict CSP, visible load failures,
and the wheel installed into Pyodide.

The page is served on the test collector's origin (``http://127.0.0.1:A``); a second
collector serves the same ``dist/`` on ``http://localhost:B``, another origin.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Frame, Page, Response, Route

from tests.packaging.wheel_build import build_wheel

from .support import (
    ANON_TOKEN_RE,
    READY_TIMEOUT_MS,
    PageLog,
    TrackerPage,
    build_page,
    needs_interpreter,
)

ROOT = Path(__file__).resolve().parents[2]
INIT = "tracker('init', {});"
NONCE = "t3st-n0nce"
IMMUTABLE = "public, max-age=31536000, immutable"
# Every CSP report the page sees, for the assertions.
WATCH_CSP = (
    "window.violations = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.violations.push(e.effectiveDirective + ' ' + e.blockedURI));"
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PageHost:
    """A second collector on ``http://127.0.0.1:PORT`` serving test pages written to files
    (real responses: Chromium puts a page that Playwright fulfils in the public address
    space, which may not load from loopback hosts) and the same build at /dist/."""

    def __init__(self, origin: str, directory: Path) -> None:
        self.origin = origin
        self.directory = directory

    def serve(self, name: str, html: str, csp: str | None = None) -> str:
        """Write ``html`` (with the policy as a CSP ``<meta>``) as ``/name``; returns its URL."""
        if csp:
            meta = f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            html = html.replace('<meta charset="utf-8">', f'<meta charset="utf-8">\n{meta}', 1)
        (self.directory / name).write_text(html, encoding="utf-8")
        return f"{self.origin}/{name}"


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageHost]:
    tmp = tmp_path_factory.mktemp("pages")
    web = tmp / "web"
    web.mkdir()
    port = _free_port()
    dist = os.environ.get("TRACKER_TEST_DIST") or str(ROOT / "dist")
    command = [sys.executable, "-m", "collector", "--port", str(port), "--db", str(tmp / "db")]
    with open(tmp / "log", "wb") as log:
        proc = subprocess.Popen(
            [*command, "--web", str(web), "--dist", dist],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{origin}/healthz", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp / "log").read_text(errors="replace")) from None
                time.sleep(0.1)
        yield PageHost(origin, web)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def no_cors_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The build on a static server that sends no CORS headers (`python -m http.server`),
    as ``http://localhost:PORT`` (dist/ at the root)."""
    port = _free_port()
    dist = os.environ.get("TRACKER_TEST_DIST") or str(ROOT / "dist")
    log = tmp_path_factory.mktemp("no-cors") / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
            cwd=dist,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/manifest.json", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text(errors="replace")) from None
                time.sleep(0.1)
        yield f"http://localhost:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def dist_origin(base_url: str) -> str:
    """The test collector under another name: ``http://localhost:PORT``, another origin."""
    return base_url.replace("127.0.0.1", "localhost")


def _page(runtime: str, statements: list[str], src: str, after: tuple[str, ...] = ()) -> str:
    """A test page whose stub script carries the CSP nonce and whose tag loads ``src``."""
    html = build_page(runtime, [WATCH_CSP, *statements], after=after)
    html = html.replace('src="/dist/tracker.js"', f'src="{src}"')
    return html.replace("<script>", f'<script nonce="{NONCE}">')


def _serve(page: Page, url: str, html: str) -> None:
    """Answer ``url`` with ``html`` from within the browser (same-origin cases only)."""
    page.route(url, lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"))


def _settled(target: Page | Frame) -> dict[str, Any]:
    """Wait for ``tracker.ready``; what the page then sees of the tracker."""
    target.wait_for_function("() => window.tracker && window.tracker.ready")
    return dict(
        target.evaluate(
            """() => tracker.ready.then(() => ({
              token: tracker.getUserToken() === undefined ? 'undefined' : tracker.getUserToken(),
              loadError: tracker.loadError && {
                reason: tracker.loadError.reason, file: tracker.loadError.file,
                message: tracker.loadError.message, name: tracker.loadError.name },
              violations: window.violations || [],
            }))"""
        )
    )


def _tracker_warnings(log: PageLog) -> list[str]:
    return [w for w in log.warnings if w.startswith("[tracker]")]


# --- dist/ on another origin -----------------------------------------------------------------


def test_dist_from_another_origin_works_and_storage_stays_the_pages(
    tp: TrackerPage, pages: PageHost, dist_origin: str
) -> None:
    """Page on 127.0.0.1, tracker.js and everything it loads from localhost: the tracker runs,
    its cookie and localStorage are the page's, every dist/ file came from the other origin
    with `Access-Control-Allow-Origin: *`, hashed names are immutable, tracker.js is not."""
    responses: list[Response] = []
    tp.page.on("response", lambda response: responses.append(response))
    tp.page.set_default_timeout(READY_TIMEOUT_MS)
    html = _page(
        tp.runtime, [INIT, "tracker('setAnonymousUserToken');"], f"{dist_origin}/dist/tracker.js"
    )
    tp.page.goto(pages.serve(f"xo-{tp.runtime}.html", html))
    seen = _settled(tp.page)
    assert seen["loadError"] is None, seen
    assert ANON_TOKEN_RE.match(seen["token"]), seen
    tp.base_url = pages.origin
    cookie = tp.cookies()["_ALGOLIA"]
    assert cookie["value"] == seen["token"]
    assert cookie["domain"] == "127.0.0.1"
    anonymous_id = tp.call("getAnonymousId")
    assert any(anonymous_id in v for v in tp.local_storage().values())

    dist = [r for r in responses if "/dist/" in r.url]
    assert dist and all(r.url.startswith(dist_origin + "/dist/") for r in dist), [
        r.url for r in dist
    ]
    if tp.runtime == "compiled":
        assert [r.url for r in dist] == [dist_origin + "/dist/tracker.js"]
    else:
        assert any(r.url.endswith(".wasm") for r in dist)
    for response in dist:
        headers = response.all_headers()
        assert headers.get("access-control-allow-origin") == "*", response.url
        if response.url.endswith("/dist/tracker.js"):
            assert "immutable" not in headers["cache-control"]
        else:
            assert headers["cache-control"] == IMMUTABLE, response.url
    assert _tracker_warnings(tp.log) == []


@pytest.mark.parametrize("where", ["same-server", "other-origin"])
def test_sandboxed_iframe_runs_the_tracker(
    tp: TrackerPage, pages: PageHost, dist_origin: str, where: str
) -> None:
    """In `<iframe sandbox="allow-scripts">` (an opaque origin, storage throws) the tracker
    loads, answers calls and keeps tokens in memory."""
    src = "/dist/tracker.js" if where == "same-server" else f"{dist_origin}/dist/tracker.js"
    inner = _page(tp.runtime, ["tracker('init', {userToken: 'framed'});"], src)
    name = f"inner-{tp.runtime}-{where}.html"
    pages.serve(name, inner)
    outer = f'<!doctype html><iframe sandbox="allow-scripts" src="/{name}"></iframe>'
    tp.page.set_default_timeout(READY_TIMEOUT_MS)
    tp.page.goto(pages.serve(f"outer-{tp.runtime}-{where}.html", outer))
    frame = tp.page.wait_for_selector("iframe").content_frame()
    assert frame is not None
    frame.wait_for_load_state()
    seen = _settled(frame)
    assert seen["loadError"] is None, (seen, tp.log.messages)
    assert seen["token"] == "framed"
    assert frame.evaluate("() => self.origin") == "null"
    token = frame.evaluate(
        "() => { tracker.setAnonymousUserToken(true); return tracker.getUserToken(); }"
    )
    assert ANON_TOKEN_RE.match(token)
    assert tp.log.warnings_about("could not load") == []


# --- Content-Security-Policy -----------------------------------------------------------------


@pytest.mark.parametrize("where", ["same-origin", "other-origin"])
def test_strict_csp_is_enough(
    tp: TrackerPage, pages: PageHost, dist_origin: str, where: str
) -> None:
    """The README's policy: scripts and fetches from where dist/ is, 'wasm-unsafe-eval', a
    nonce for the page's own stub; nothing else (no 'unsafe-eval', no 'unsafe-inline')."""
    host = "'self'" if where == "same-origin" else dist_origin
    src = "/dist/tracker.js" if where == "same-origin" else f"{dist_origin}/dist/tracker.js"
    csp = (
        f"default-src 'none'; script-src {host} 'wasm-unsafe-eval' 'nonce-{NONCE}'; "
        f"connect-src 'self' {host}"
    )
    html = _page(tp.runtime, [INIT, "tracker('setUserToken', 'csp-ok');"], src)
    tp.page.set_default_timeout(READY_TIMEOUT_MS)
    tp.page.goto(pages.serve(f"csp-{tp.runtime}-{where}.html", html, csp))
    seen = _settled(tp.page)
    assert seen["loadError"] is None, (seen, tp.log.messages)
    assert seen["token"] == "csp-ok"
    assert seen["violations"] == []
    assert _tracker_warnings(tp.log) == []


def test_csp_without_wasm_unsafe_eval_says_so(tp: TrackerPage, pages: PageHost) -> None:
    """Without 'wasm-unsafe-eval' the runtime cannot compile: one warning saying what to add,
    `loadError.reason` is "csp", ready resolves and calls return nothing."""
    needs_interpreter(tp.runtime)
    csp = f"default-src 'self'; script-src 'self' 'nonce-{NONCE}'"
    html = _page(tp.runtime, [INIT, "tracker('setUserToken', 'x');"], "/dist/tracker.js")
    tp.page.set_default_timeout(READY_TIMEOUT_MS)
    tp.page.goto(pages.serve(f"csp-no-wasm-{tp.runtime}.html", html, csp))
    seen = _settled(tp.page)
    assert seen["loadError"]["reason"] == "csp", seen
    assert seen["token"] == "undefined"
    warnings = tp.wait_for_warnings(1, "[tracker]")
    assert len(warnings) == 1, warnings
    assert "'wasm-unsafe-eval'" in warnings[0] and tp.runtime in warnings[0]


def test_report_only_policy_does_not_stop_loading(tp: TrackerPage) -> None:
    """A Content-Security-Policy-Report-Only header reports the wasm compile but blocks
    nothing: the tracker loads."""
    html = _page(tp.runtime, [INIT, "tracker('setUserToken', 'reported');"], "/dist/tracker.js")
    url = f"{tp.base_url}/t/report-only-{tp.runtime}.html"
    report_only = {"content-security-policy-report-only": "script-src 'self'"}
    tp.page.route(
        url,
        lambda route: route.fulfill(
            body=html, content_type="text/html; charset=utf-8", headers=report_only
        ),
    )
    tp.page.set_default_timeout(READY_TIMEOUT_MS)
    tp.page.goto(url)
    seen = _settled(tp.page)
    assert seen["loadError"] is None, seen
    assert seen["token"] == "reported"
    assert seen["violations"], "the policy did report"


def test_pyscript_page_under_its_documented_csp(tp: TrackerPage, pages: PageHost) -> None:
    """web/pyscript.html under the README's PyScript policy (PyScript itself needs
    'unsafe-eval' and blob: workers; the page's inline module script gets a nonce)."""
    csp = (
        f"default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval' "
        f"'nonce-{NONCE}'; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:"
    )

    html = (ROOT / "web" / "pyscript.html").read_text(encoding="utf-8")
    html = html.replace('<script type="module">', f'<script type="module" nonce="{NONCE}">')
    (pages.directory / "demo.css").write_bytes((ROOT / "web" / "demo.css").read_bytes())
    url = pages.serve("pyscript.html", html, csp)
    tp.page.set_default_timeout(READY_TIMEOUT_MS)
    tp.page.goto(f"{url}?runtime={tp.runtime}")
    tp.page.wait_for_function(
        "() => document.getElementById('status').textContent !== 'loading'",
        timeout=READY_TIMEOUT_MS,
    )
    assert tp.page.text_content("#status") == "ready", tp.log.messages
    assert ANON_TOKEN_RE.match(tp.page.text_content("#user-token") or "")


# --- visible load failures -------------------------------------------------------------------


def test_missing_wasm_is_one_clear_warning_and_load_error(tp: TrackerPage) -> None:
    """The runtime's .wasm answers 404: one warning naming the file, the status and how many
    queued calls were dropped; `loadError` says the same; ready callbacks still run, flush()
    resolves, calls return nothing, the page's own scripts go on."""
    needs_interpreter(tp.runtime)
    tp.page.route(
        "**/*.wasm",
        lambda route: route.fulfill(status=404, body="Not Found", content_type="text/plain"),
    )
    tp.open(
        INIT,
        "tracker('setAnonymousUserToken');",
        "tracker(() => { window.readyCallback = tracker.loadError && tracker.loadError.reason; });",
        after=["window.laterScriptRan = true;"],
        ready=False,
    )
    seen = _settled(tp.page)
    error = seen["loadError"]
    assert error["reason"] == "http" and error["file"].endswith(".wasm"), error
    assert error["name"] == "TrackerLoadError"
    assert "404" in error["message"]
    warnings = tp.wait_for_warnings(1, "[tracker]")
    assert len(warnings) == 1, warnings
    assert error["file"] in warnings[0] and "404" in warnings[0]
    assert "2 queued calls were dropped" in warnings[0]
    assert tp.wait_for("window.readyCallback") == "http"
    assert tp.js("return tracker.flush().then(() => 'resolved')") == "resolved"
    assert tp.js("return [tracker.getUserToken(), tracker('getUserToken')]") == [None, None]
    assert tp.js("return window.laterScriptRan") is True
    assert len(_tracker_warnings(tp.log)) == 1


def test_dist_host_without_cors_is_named(
    tp: TrackerPage, pages: PageHost, no_cors_origin: str
) -> None:
    """A static host that does not send Access-Control-Allow-Origin: the warning and
    `loadError` (reason "cors") name the file and the header to add."""
    needs_interpreter(tp.runtime)
    html = _page(tp.runtime, [INIT], f"{no_cors_origin}/tracker.js")
    tp.page.set_default_timeout(READY_TIMEOUT_MS)
    tp.page.goto(pages.serve(f"no-cors-{tp.runtime}.html", html))
    seen = _settled(tp.page)
    assert seen["loadError"]["reason"] == "cors", seen
    assert seen["loadError"]["file"].startswith(no_cors_origin + "/")
    warnings = tp.wait_for_warnings(1, "[tracker]")
    assert len(warnings) == 1 and "Access-Control-Allow-Origin" in warnings[0], warnings


def test_offline_is_named(tp: TrackerPage) -> None:
    """tracker.js came from the cache but the network is gone: reason "offline"."""
    needs_interpreter(tp.runtime)
    tp.page.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'onLine', {get: () => false});"
    )

    def offline(route: Route) -> None:
        if route.request.url.endswith("/dist/tracker.js"):
            route.continue_()
        else:
            route.abort("internetdisconnected")

    tp.page.route("**/dist/**", offline)
    tp.open(INIT, ready=False)
    seen = _settled(tp.page)
    assert seen["loadError"]["reason"] == "offline", seen
    warnings = tp.wait_for_warnings(1, "[tracker]")
    assert len(warnings) == 1 and "offline" in warnings[0], warnings


# --- the wheel in Pyodide --------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built with the pinned frontend."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_pyodide_installs_the_wheel(page: Page, base_url: str, wheel: Path) -> None:
    """Pyodide (from dist/) installs the pure-Python wheel and the page's Python uses
    `tracker` from site-packages on the page's cookies."""
    page.route(
        f"**/t/{wheel.name}",
        lambda route: route.fulfill(body=wheel.read_bytes(), content_type="application/zip"),
    )
    script = """async (wheelUrl) => {
      const files = await (await fetch('/dist/manifest.json')).json();
      const dir = new URL('/dist/' + files['pyodide/'], location.href).href;
      const { loadPyodide } = await import(dir + 'pyodide.mjs');
      const pyodide = await loadPyodide({ indexURL: dir, lockFileURL: dir + 'pyodide-lock.json' });
      await pyodide.loadPackage(wheelUrl);
      return pyodide.runPython(`
import json
import tracker
t = tracker.get_tracker()
t.init({})
t.set_anonymous_user_token()
json.dumps([tracker.__file__, t.get_user_token()])
`);
    }"""
    page.set_default_timeout(READY_TIMEOUT_MS)
    _serve(page, f"{base_url}/t/wheel.html", "<!doctype html><title>wheel</title>")
    page.goto(f"{base_url}/t/wheel.html")
    where, token = json.loads(page.evaluate(script, f"{base_url}/t/{wheel.name}"))
    assert "site-packages/tracker/__init__.py" in where, where
    assert ANON_TOKEN_RE.match(token)
    assert any(c["name"] == "_ALGOLIA" and c["value"] == token for c in page.context.cookies())
