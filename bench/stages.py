"""`python -m bench.stages name=DIST [name=DIST ...]`: builds of dist/ compared interleaved.

Loads one of the tracker's bench pages (default `ours-pyodide.html`) against each given
build directory, in fresh browser contexts, each round starting from a different build so
machine noise hits all alike, and prints per build: cold and warm ready, blocking (long
tasks before ready, sum of duration - 50 ms, as the bench), the download and the medians
of the loader's `tracker:*` marks. For levers that change dist/: copy one build aside
(`cp -r dist /tmp/before`), change and rebuild, then
`python -m bench.stages before=/tmp/before after=dist`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench import server
from bench.measure import CHROMIUM_ARGS, INIT_SCRIPT, READY_JS

RESULT_JS = """async () => {
  await new Promise((r) => setTimeout(r, 150));
  const ready = window.__bench.readyAt;
  const marks = {};
  for (const m of performance.getEntriesByType('mark')) {
    if (m.name.startsWith('tracker:')) marks[m.name.slice(8)] = m.startTime;
  }
  let bytes = 0;
  for (const e of performance.getEntriesByType('resource')) bytes += e.encodedBodySize;
  let blocking = 0;
  for (const [start, dur] of window.__benchLongTasks) {
    if (start < ready) blocking += Math.max(0, dur - 50);
  }
  return { ready, blocking, bytes, marks };
}"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__)
    p.add_argument("builds", nargs="+", metavar="name=DIST", help="a label and a dist/ directory")
    p.add_argument("--runs", type=int, default=5, help="fresh contexts per build")
    p.add_argument("--page", default="ours-pyodide.html", help="a page of bench/pages/")
    p.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    return p.parse_args(argv)


def _view(page, url: str) -> dict:
    page.goto(url, wait_until="commit")
    page.wait_for_function(READY_JS, timeout=120_000, polling=20)
    error = page.evaluate("() => window.__bench.error || null")
    if error:
        raise RuntimeError(error)
    return page.evaluate(RESULT_JS)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    builds = dict(b.split("=", 1) for b in args.builds)
    source = (server.BENCH / "pages" / args.page).read_text()
    pages = Path(tempfile.mkdtemp(prefix="bench-stages-"))
    for name, dist in builds.items():
        server.MOUNTS.insert(0, (f"/stages/{name}/dist/", Path(dist).resolve()))
        html = source.replace('"/dist/', f'"/stages/{name}/dist/')
        html = html.replace('src="ours.js"', 'src="/bench/ours.js"')
        html = html.replace('src="dist.js"', 'src="/bench/dist.js"')
        (pages / f"{name}.html").write_text(html)
    server.MOUNTS.insert(0, ("/stages/pages/", pages))

    samples: dict[str, list[dict]] = {name: [] for name in builds}
    names = list(builds)
    with server.Servers(port=0, proxy_port=0) as servers, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=args.chromium,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--proxy-server={servers.proxy_url}"],
        )
        for round_no in range(-1, args.runs):  # round -1: unmeasured, fills the caches
            shift = max(round_no, 0) % len(names)
            for name in names[shift:] + names[:shift]:
                ctx = browser.new_context()
                ctx.add_init_script(INIT_SCRIPT)
                page = ctx.new_page()
                url = f"{servers.origin}/stages/pages/{name}.html"
                try:
                    cold = _view(page, url)
                    warm = _view(page, url)
                finally:
                    ctx.close()
                if round_no < 0:
                    continue
                cold["warm"], cold["warm_blocking"] = warm["ready"], warm["blocking"]
                samples[name].append(cold)
                print(
                    f"round {round_no} {name}: ready {cold['ready']:.0f} ms, "
                    f"blocking {cold['blocking']:.0f} ms, warm {warm['ready']:.0f} ms",
                    flush=True,
                )
        browser.close()

    print()
    for name, runs in samples.items():

        def med(key: str, runs: list[dict] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        print(
            f"{name} ({len(runs)} contexts): cold ready {med('ready'):.0f} ms, blocking "
            f"{med('blocking'):.0f} ms, warm ready {med('warm'):.0f} ms, warm blocking "
            f"{med('warm_blocking'):.0f} ms, download {med('bytes') / 1e6:.2f} MB"
        )
        marks = sorted(runs[0]["marks"], key=runs[0]["marks"].get)
        line = ", ".join(
            f"{m} {statistics.median(r['marks'][m] for r in runs if m in r['marks']):.0f}"
            for m in marks
        )
        print(f"  marks (ms from navigation): {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
