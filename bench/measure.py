"""Drive the system Chromium through cold and warm page views and collect raw samples.

One sample = one fresh browser context: a cold view (empty cache), memory after
ready, a warm view (same context, next page view), then per-call costs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, sync_playwright

from bench.systems import System

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    # No request may leave the machine: names resolve nowhere, and everything
    # not on loopback goes to a proxy that refuses it (Chromium bypasses proxies
    # for loopback by default).
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
]

# Runs in every page before its own scripts, identically for every system.
INIT_SCRIPT = """
(() => {
  const tasks = window.__benchLongTasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) tasks.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  } catch (e) {}
  const W = WebAssembly, mems = new Set();
  const scan = (o) => {
    if (!o || typeof o !== 'object') return;
    for (const v of Object.values(o)) {
      if (v instanceof W.Memory) mems.add(v);
      else if (v && typeof v === 'object') {
        for (const w of Object.values(v)) if (w instanceof W.Memory) mems.add(w);
      }
    }
  };
  const seen = (res, imports) => {
    const inst = res instanceof W.Instance ? res : res && res.instance;
    if (inst) scan(inst.exports);
    scan(imports);
    return res;
  };
  const inst = W.instantiate, stream = W.instantiateStreaming, Inst = W.Instance;
  W.instantiate = function (src, imports) {
    return inst.apply(this, arguments).then((r) => seen(r, imports));
  };
  if (stream) W.instantiateStreaming = function (src, imports) {
    return stream.apply(this, arguments).then((r) => seen(r, imports));
  };
  W.Instance = function Instance(module, imports) {
    return seen(new Inst(module, imports), imports);
  };
  W.Instance.prototype = Inst.prototype;
  window.__benchWasmBytes = () => {
    let n = 0;
    for (const m of mems) n += m.buffer.byteLength;
    return n;
  };
})();
"""

READY_JS = "() => window.__bench && (window.__bench.readyAt != null || !!window.__bench.error)"

# After ready: let pending long-task entries arrive, then read everything.
LOAD_RESULT_JS = """
async () => {
  await new Promise((r) => setTimeout(r, 150));
  const b = window.__bench;
  if (b.error) return { error: b.error };
  const ready = b.readyAt;
  let blocking = 0, longTasks = 0;
  for (const [start, dur] of window.__benchLongTasks) {
    if (start < ready) { blocking += Math.max(0, dur - 50); longTasks += 1; }
  }
  const isEvent = (path) => path.startsWith('/stub/') || path === '/collect' || path === '/i';
  // A system that sends a page view once ready (b.sendsPageEvent): wait for the collector's
  // answer to its first request to a tracking endpoint (the stub answers at once).
  let firstEvent = null;
  for (let waited = 0; b.sendsPageEvent && waited < 5000; waited += 20) {
    for (const e of performance.getEntriesByType('resource')) {
      if (isEvent(new URL(e.name).pathname) && e.responseEnd > 0) {
        firstEvent = firstEvent === null ? e.responseEnd : Math.min(firstEvent, e.responseEnd);
      }
    }
    if (firstEvent !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  // The bench's shared page scripts stand for code a page would inline: not counted.
  const pageCode = new Set(['/bench/dist.js', '/bench/ours.js']);
  const files = [];
  for (const e of performance.getEntriesByType('resource')) {
    const path = new URL(e.name).pathname;
    if (isEvent(path) || pageCode.has(path)) continue;
    files.push([path, e.encodedBodySize, e.transferSize]);
  }
  return { ready, blocking, longTasks, files, firstEvent };
}
"""

CALLS_MAX_MS = 600  # per op and sample; keeps a 15-run bench under 10 minutes on 2 cores
TRACK_CALLS = 200  # track buffers or sends: fewer calls, then its deferred work is awaited

# Times the named calls of window.__bench.calls in batches of `size`: at least
# minCalls and minMs, at most maxCalls and maxMs. Keeps the first and last
# batch's cost to show costs that grow with the number of calls.
CALLS_JS = """
async ({ names, size, minCalls, maxCalls, minMs, maxMs }) => {
  const out = {};
  for (const name of names) {
    const fn = window.__bench.calls[name];
    if (typeof fn !== 'function') { out[name] = null; continue; }
    try {
      fn(0);
      let count = 0, elapsed = 0, first = null, last = 0;
      const t0 = performance.now();
      do {
        const b0 = performance.now();
        for (let i = 0; i < size; i++) fn(count + i);
        const b1 = performance.now();
        count += size;
        elapsed = b1 - t0;
        last = ((b1 - b0) * 1000) / size;
        if (first === null) first = last;
      } while (count < maxCalls && elapsed < maxMs && (count < minCalls || elapsed < minMs));
      out[name] = { us: (elapsed * 1000) / count, calls: count, first_us: first, last_us: last };
    } catch (e) {
      out[name] = { error: String(e) };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return out;
}
"""


@dataclass
class Sample:
    """Raw numbers from one fresh-context run of one system."""

    system: str
    round: int
    cold: dict = field(default_factory=dict)
    warm: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    calls: dict = field(default_factory=dict)
    methods: dict = field(default_factory=dict)
    external: list[str] = field(default_factory=list)
    error: str | None = None
    console: list[str] = field(default_factory=list)
    seconds: float = 0.0


def is_loopback(url: str) -> bool:
    """True for URLs the browser may fetch (loopback, data:, blob:, about:)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome"):
        return True
    return parts.hostname in ("127.0.0.1", "localhost", "::1")


class Bench:
    """A Chromium instance, reused for every sample; each sample gets a fresh context."""

    def __init__(self, chromium: str, origin: str, proxy_url: str, calls_n: int = 1000):
        self.origin = origin
        self.calls_n = calls_n
        self._pw = sync_playwright().start()
        self.browser: Browser = self._pw.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--proxy-server={proxy_url}"],
        )

    @property
    def version(self) -> str:
        return self.browser.version

    def close(self) -> None:
        self.browser.close()
        self._pw.stop()

    def _view(self, page: Page, url: str, timeout_s: float) -> dict:
        page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        page.wait_for_function(READY_JS, timeout=timeout_s * 1000, polling=20)
        result = page.evaluate(LOAD_RESULT_JS)
        if "error" in result:
            raise RuntimeError(result["error"])
        result["bytes"] = sum(f[1] for f in result["files"])
        result["transfer"] = sum(f[2] for f in result["files"])
        return result

    def warm_up(self, system: System) -> None:
        """One cold load, measured by nobody: fills the server's gzip cache and the OS's."""
        ctx = self.browser.new_context()
        try:
            page = ctx.new_page()
            page.goto(self.origin + system.page, wait_until="commit")
            page.wait_for_function(READY_JS, timeout=system.timeout_s * 1000, polling=50)
        except Exception:  # the measured runs will report it
            pass
        finally:
            ctx.close()

    def sample(self, system: System, round_no: int, calls: bool = True) -> Sample:
        """Measure one system in a fresh context: cold, memory, warm, per-call."""
        out = Sample(system.key, round_no)
        started = time.monotonic()
        ctx = self.browser.new_context()
        ctx.add_init_script(INIT_SCRIPT)
        ctx.on("request", lambda r: None if is_loopback(r.url) else out.external.append(r.url))
        page = ctx.new_page()
        page.on("console", lambda m: _keep(out.console, f"{m.type}: {m.text}", m.type))
        page.on("pageerror", lambda e: _keep(out.console, f"pageerror: {e}", "error"))
        page.on(
            "response",
            lambda r: (
                _keep(out.console, f"HTTP {r.status} {r.url}", "error") if r.status >= 400 else None
            ),
        )
        url = self.origin + system.page
        try:
            out.cold = self._view(page, url, system.timeout_s)
            out.memory = self._memory(page, ctx)
            out.warm = self._view(page, url, system.timeout_s)
            out.methods = page.evaluate("() => window.__bench.methods || {}")
            if calls:
                out.calls = self._calls(page, ctx)
        except Exception as exc:  # a broken system must not stop the bench
            out.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        finally:
            ctx.close()
        out.seconds = round(time.monotonic() - started, 2)
        return out

    def _calls(self, page: Page, ctx) -> dict:
        """Per-call costs: getters/setters over many batches, then track with the
        main-thread time of the work it defers (CDP TaskDuration until quiet)."""
        names = page.evaluate("() => Object.keys(window.__bench.calls || {})")
        n = self.calls_n
        spec = {"size": n, "minCalls": n, "maxCalls": 50 * n, "minMs": 50, "maxMs": CALLS_MAX_MS}
        out = page.evaluate(CALLS_JS, dict(spec, names=[x for x in names if x != "track"]))
        if "track" not in names:
            return out
        cdp = ctx.new_cdp_session(page)
        try:
            cdp.send("Performance.enable")
            before = _task_seconds(cdp)
            spec = {
                "size": 10,
                "minCalls": TRACK_CALLS,
                "maxCalls": TRACK_CALLS,
                "minMs": 0,
                "maxMs": CALLS_MAX_MS,
            }
            track = page.evaluate(CALLS_JS, dict(spec, names=["track"]))["track"]
            if track and "us" in track:
                after, quiet = _until_quiet(cdp)
                track["total_us"] = (after - before) * 1e6 / track["calls"]
                track["quiet"] = quiet
            out["track"] = track
        finally:
            cdp.detach()
        return out

    def _memory(self, page: Page, ctx) -> dict:
        cdp = ctx.new_cdp_session(page)
        try:
            cdp.send("HeapProfiler.enable")
            cdp.send("HeapProfiler.collectGarbage")
            heap = cdp.send("Runtime.getHeapUsage")
        finally:
            cdp.detach()
        wasm = page.evaluate("() => window.__benchWasmBytes()")
        return {"js_heap": heap["usedSize"], "wasm": wasm, "total": heap["usedSize"] + wasm}


def _task_seconds(cdp) -> float:
    """The renderer main thread's busy time so far (CDP Performance TaskDuration)."""
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "TaskDuration")


def _until_quiet(cdp, step: float = 0.1, busy: float = 0.002, cap: float = 3.0):
    """Poll until the main thread is busy < `busy` s per `step` s; (busy time, quiet?)."""
    last = _task_seconds(cdp)
    deadline = time.monotonic() + cap
    while time.monotonic() < deadline:
        time.sleep(step)
        now = _task_seconds(cdp)
        if now - last < busy:
            return now, True
        last = now
    return last, False


def _keep(log: list[str], line: str, kind: str) -> None:
    if kind in ("error", "warning") and len(log) < 20:
        log.append(line[:300])


def settle(seconds: float = 0.1) -> None:
    """A short pause between samples so one system's trailing work ends first."""
    time.sleep(seconds)
