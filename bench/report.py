"""Turn raw samples into statistics, ratios and target checks; write markdown and JSON."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from pathlib import Path

from bench.measure import Sample
from bench.server import BENCH
from bench.systems import (
    FLOOR,
    MICROPYTHON,
    OURS,
    OURS_MICROPYTHON,
    SEARCH_INSIGHTS,
    SNOWPLOW,
    System,
)

RESULTS = BENCH / "results"
README = BENCH / "README.md"
KB = 1000  # bytes per KB in every figure (so "300 KB" means 300 000 bytes)

# metric key -> (column title, unit, how to read it from a sample)
METRICS = {
    "bytes": ("gzip KB", "KB", lambda s: s.cold["bytes"] / KB),
    "cold_ready": ("cold ready ms", "ms", lambda s: s.cold["ready"]),
    "warm_ready": ("warm ready ms", "ms", lambda s: s.warm["ready"]),
    "blocking": ("blocking ms", "ms", lambda s: s.cold["blocking"]),
    "first_event": ("first event ms", "ms", lambda s: s.cold.get("firstEvent")),
    "warm_first_event": ("warm first event ms", "ms", lambda s: s.warm.get("firstEvent")),
    "warm_blocking": ("warm blocking ms", "ms", lambda s: s.warm["blocking"]),
    "warm_transfer": ("warm transfer KB", "KB", lambda s: s.warm["transfer"] / KB),
    "memory": ("memory MB (JS+wasm)", "MB", lambda s: s.memory["total"] / 1e6),
    "js_heap": ("JS heap MB", "MB", lambda s: s.memory["js_heap"] / 1e6),
    "wasm": ("wasm MB", "MB", lambda s: s.memory["wasm"] / 1e6),
}
CALL_OPS = {  # per-call metrics with their own column
    "get": "get µs",
    "set": "set µs",
    "track": "track µs (sync)",
    "track_total": "track µs (+deferred)",
}
TABLE = ["bytes", "cold_ready", "warm_ready", "first_event", "blocking", *CALL_OPS, "memory"]
RATIOS = [  # (metric, baseline system, column title)
    ("bytes", SEARCH_INSIGHTS, "bytes ×SI"),
    ("cold_ready", SEARCH_INSIGHTS, "cold ×SI"),
    ("cold_ready", FLOOR, "cold ×floor"),
    ("cold_ready", MICROPYTHON, "cold ×MP"),
    ("warm_ready", SEARCH_INSIGHTS, "warm ×SI"),
    ("warm_ready", FLOOR, "warm ×floor"),
    ("warm_ready", MICROPYTHON, "warm ×MP"),
    ("memory", SEARCH_INSIGHTS, "memory ×SI"),
]


def describe(values: list[float]) -> dict | None:
    """Median, quartiles, p10/p90 and range of a list of numbers."""
    if not values:
        return None
    v = sorted(values)
    if len(v) == 1:
        q = [v[0]] * 3
        d = [v[0]] * 9
    else:
        q = statistics.quantiles(v, n=4, method="inclusive")
        d = statistics.quantiles(v, n=10, method="inclusive")
    return {
        "median": statistics.median(v),
        "p25": q[0],
        "p75": q[2],
        "p10": d[0],
        "p90": d[8],
        "min": v[0],
        "max": v[-1],
        "n": len(v),
    }


def summarise(system: System, samples: list[Sample], skipped: str | None) -> dict:
    """Statistics for one system over its successful samples."""
    good = [s for s in samples if s.error is None]
    out: dict = {
        "label": system.label,
        "page": system.page,
        "runs": len(good),
        "failed_runs": len(samples) - len(good),
        "skipped": skipped,
        "errors": sorted({s.error for s in samples if s.error})[:5],
        "console": sorted({line for s in samples for line in s.console})[:10],
        "external_requests": sorted({u for s in samples for u in s.external})[:10],
        "methods": next((s.methods for s in good if s.methods), {}),
        "metrics": {},
    }
    for key, (_, _, read) in METRICS.items():
        values = [read(s) for s in good]
        out["metrics"][key] = describe([v for v in values if v is not None])
    ops = sorted({op for s in good for op in s.calls})
    for op in ops:
        cells = [s.calls.get(op) for s in good]
        errs = [c["error"] for c in cells if c and "error" in c]
        vals = [c["us"] for c in cells if c and "us" in c]
        out["metrics"][op] = describe(vals)
        done = [c for c in cells if c and "us" in c]
        if done:
            out.setdefault("calls_detail", {})[op] = {
                key: statistics.median(c[key] for c in done)
                for key in ("calls", "first_us", "last_us")
            }
        if errs:
            out.setdefault("call_errors", {})[op] = errs[0]
    totals = [
        s.calls["track"]["total_us"] for s in good if "total_us" in (s.calls.get("track") or {})
    ]
    out["metrics"]["track_total"] = describe(totals)
    return out


def median(result: dict, key: str, metric: str) -> float | None:
    """The median of `metric` for system `key`, or None when not measured."""
    m = result["systems"].get(key, {}).get("metrics", {}).get(metric)
    return m["median"] if m else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def add_ratios(result: dict) -> None:
    """Each system's medians as ratios to search-insights and to the floors."""
    for key, sysres in result["systems"].items():
        sysres["ratios"] = {
            title: ratio(median(result, key, metric), median(result, base, metric))
            for metric, base, title in RATIOS
        }


def paired(samples: list[Sample], key: str, base: str, metric: str) -> dict | None:
    """Per-round ratios key/base of a metric (same round = same machine state), described."""
    read = METRICS[metric][2]
    by_round: dict[int, dict[str, float]] = {}
    for s in samples:
        if s.error is None and s.system in (key, base):
            by_round.setdefault(s.round, {})[s.system] = read(s)
    return describe([r[key] / r[base] for r in by_round.values() if len(r) == 2 and r[base]])


def targets(result: dict, samples: list[Sample]) -> list[dict]:
    """The issue's targets for the default build, each with measured value and pass/fail.

    Time ratios are the medians' ratio; `paired` is the median of per-round ratios,
    less sensitive to load that drifts during the run.
    """

    def check(name, value, limit, unit, why=None, pair=None):
        status = "n/a" if value is None else ("pass" if value <= limit else "FAIL")
        return {
            "target": name,
            "value": value,
            "limit": limit,
            "unit": unit,
            "status": status,
            "note": why,
            "paired": pair,
        }

    def at_most(name: str, metric: str, base: str) -> dict:
        """OURS's median of `metric` against `base`'s median (ratio ≤ 1)."""
        return check(
            name,
            ratio(median(result, OURS, metric), median(result, base, metric)),
            1.0,
            "×",
            pair=paired(samples, OURS, base, metric) if metric in METRICS else None,
        )

    track = median(result, OURS, "track_total")
    mp_cold = ratio(
        median(result, OURS_MICROPYTHON, "cold_ready"), median(result, MICROPYTHON, "cold_ready")
    )
    mp_warm = ratio(
        median(result, OURS_MICROPYTHON, "warm_ready"), median(result, MICROPYTHON, "warm_ready")
    )
    return [
        check(
            "≤ 30 KB gzip in total (every file the default tag loads)",
            median(result, OURS, "bytes"),
            30,
            "KB",
        ),
        check(
            "warm ready ≤ 1.2× search-insights",
            ratio(
                median(result, OURS, "warm_ready"), median(result, SEARCH_INSIGHTS, "warm_ready")
            ),
            1.2,
            "×",
            pair=paired(samples, OURS, SEARCH_INSIGHTS, "warm_ready"),
        ),
        at_most("cold ready ≤ Snowplow's", "cold_ready", SNOWPLOW),
        at_most("first event stored ≤ Snowplow's", "first_event", SNOWPLOW),
        check("getUserToken ≤ 5 µs per call", median(result, OURS, "get"), 5, "µs"),
        at_most("track incl. deferred main-thread work ≤ Snowplow's", "track_total", SNOWPLOW)
        if track is not None
        else check("track ≤ Snowplow's", None, 1.0, "×", "not measured"),
        check("JS memory ≤ 3 MB", median(result, OURS, "js_heap"), 3, "MB"),
        check(
            "old (MicroPython build): cold ready ≤ 1.15× bare MicroPython runtime",
            mp_cold,
            1.15,
            "×",
            pair=paired(samples, OURS_MICROPYTHON, MICROPYTHON, "cold_ready"),
        ),
        check(
            "old (MicroPython build): warm ready ≤ 1.1× bare MicroPython runtime",
            mp_warm,
            1.1,
            "×",
            pair=paired(samples, OURS_MICROPYTHON, MICROPYTHON, "warm_ready"),
        ),
    ]


def build(
    systems: list[System], samples: list[Sample], skipped: dict[str, str], meta: dict
) -> dict:
    """The whole result document (what latest.json holds)."""
    result = dict(meta)
    result["systems"] = {
        s.key: summarise(s, [x for x in samples if x.system == s.key], skipped.get(s.key))
        for s in systems
    }
    add_ratios(result)
    result["targets"] = targets(result, samples)
    return result


def _num(x: float | None, unit: str = "") -> str:
    if x is None:
        return "n/a"
    if unit == "×":
        return f"{x:.2f}×"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _cell(m: dict | None) -> str:
    if not m:
        return "n/a"
    mid = _num(m["median"])
    lo, hi = _num(m["p25"]), _num(m["p75"])
    return mid if lo == hi == mid else f"{mid} ({lo}–{hi})"


def _title(metric: str) -> str:
    return METRICS[metric][0] if metric in METRICS else CALL_OPS.get(metric, f"{metric} µs")


def markdown(result: dict) -> str:
    """The human-readable report: machine, medians with IQR, ratios, targets."""
    m = result["machine"]
    lines = [
        f"# Benchmark results — {result['date']}, commit {result.get('commit', '?')}",
        "",
        f"Machine: {m['nproc']} cores, {m['cpu']}, {m['os']}; {m['chromium']} (headless); "
        f"load average at start {m.get('loadavg_at_start', ['?'])[0]}. "
        f"{result['runs']} fresh-context runs per system, interleaved round-robin; "
        "per-call costs: batches of "
        f"{result['config']['calls_n']} calls until ≥50 ms, each op capped at "
        f"{result['config']['calls_max_ms']} ms per run; track: "
        f'{result["config"]["track_calls"]} calls, "+deferred" adds the main-thread time of '
        "the work they schedule (CDP TaskDuration until the page is quiet), per call. "
        "Cells: median (p25–p75). KB = 1000 bytes.",
        "",
        "Nothing left the machine: Chromium resolved no names and sent every non-loopback "
        f"request to the bench's refusing proxy ({len(result.get('blocked_by_proxy', []))} "
        "distinct requests refused, listed in latest.json).",
        "",
        "| system | " + " | ".join(_title(k) for k in TABLE) + " |",
        "| --- | " + " | ".join("---:" for _ in TABLE) + " |",
    ]
    for sysres in result["systems"].values():
        if sysres["skipped"] or not sysres["runs"]:
            why = sysres["skipped"] or "; ".join(sysres["errors"]) or "no successful run"
            lines.append(
                f"| {sysres['label']} | " + " | ".join("n/a" for _ in TABLE) + f" |\n|  | *{why}* |"
            )
            continue
        cells = [_cell(sysres["metrics"].get(k)) for k in TABLE]
        lines.append(f"| {sysres['label']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Ratios (medians)",
        "",
        "| system | " + " | ".join(t for _, _, t in RATIOS) + " |",
        "| --- | " + " | ".join("---:" for _ in RATIOS) + " |",
    ]
    for sysres in result["systems"].values():
        if sysres["runs"]:
            cells = [_num(sysres["ratios"][t], "×") for _, _, t in RATIOS]
            lines.append(f"| {sysres['label']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Targets (default build: tracker compiled to JS)",
        "",
        "| target | measured | status |",
        "| --- | ---: | --- |",
    ]
    for t in result["targets"]:
        value = (
            _num(t["value"], t["unit"])
            if t["unit"] == "×"
            else ("n/a" if t["value"] is None else f"{_num(t['value'])} {t['unit']}")
        )
        if t["paired"]:
            pair = t["paired"]
            value += (
                f" (per-round: {_num(pair['median'], '×')}, "
                f"p25–p75 {_num(pair['p25'], '×')}–{_num(pair['p75'], '×')})"
            )
        note = f" ({t['note']})" if t["note"] else ""
        lines.append(f"| {t['target']} | {value} | {t['status']}{note} |")
    lines += ["", "## What each call measures", ""]
    for sysres in result["systems"].values():
        methods = sysres.get("methods") or {}
        if methods:
            desc = "; ".join(f"{k}: `{v}`" for k, v in methods.items())
            extra = [k for k in sysres["metrics"] if k not in METRICS and k not in CALL_OPS]
            more = "".join(f"; {k} = {_cell(sysres['metrics'][k])} µs" for k in extra)
            track = (sysres.get("calls_detail") or {}).get("track")
            if track:
                more += (
                    f"; track over {track['calls']:.0f} calls: first 10 calls "
                    f"{_num(track['first_us'])} µs each, last 10 {_num(track['last_us'])} µs"
                )
            lines.append(f"- {sysres['label']}: {desc}{more}")
    problems = [
        (s["label"], s)
        for s in result["systems"].values()
        if s["failed_runs"] or s["external_requests"] or s.get("call_errors")
    ]
    if problems:
        lines += ["", "## Problems seen", ""]
        for label, s in problems:
            if s["failed_runs"]:
                errors = "; ".join(s["errors"])
                lines.append(f"- {label}: {s['failed_runs']} failed run(s): {errors}")
            if s["external_requests"]:
                urls = ", ".join(s["external_requests"])
                lines.append(f"- {label}: blocked external requests: {urls}")
            for op, err in (s.get("call_errors") or {}).items():
                lines.append(f"- {label}: `{op}` raised: {err}")
    return "\n".join(lines) + "\n"


def write(result: dict, samples: list[Sample], out_dir: Path) -> tuple[Path, Path]:
    """Write latest.md and latest.json (with the raw samples) into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out_dir / "latest.md", out_dir / "latest.json"
    text = markdown(result)
    md_path.write_text(text)
    if out_dir.resolve() == RESULTS.resolve():
        update_readme(text, README)
    doc = dict(result, samples=[_raw(s) for s in samples])
    json_path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return md_path, json_path


def update_readme(markdown_text: str, readme: Path) -> None:
    """Replace the README's results section (between the markers) with the new report."""
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        return
    lines = markdown_text.strip().splitlines()
    body = "\n".join("##" + line if line.startswith("#") else line for line in lines)
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    readme.write_text(f"{head}{start}\n{body}\n{end}{tail}")


def _raw(s: Sample) -> dict:
    """A sample without the per-file lists (kept once per system in `files`)."""
    d = asdict(s)
    for view in ("cold", "warm"):
        d[view] = {k: v for k, v in d[view].items() if k != "files"}
    d["files"] = s.cold.get("files", [])
    return d
