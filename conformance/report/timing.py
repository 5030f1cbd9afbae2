"""Where the time went: per CPI method, the spread of call durations; per test, CPI calls vs the rest.

Only numbers and chart geometry live here (plain dicts); the SVG markup is in the templates, so the
report stays one self-contained file with inline SVG and no script.
"""

from __future__ import annotations

import math
from typing import Any

CHART_WIDTH = 1000
LABEL_WIDTH = 260
ROW_HEIGHT = 24
TOP_TESTS = 25
# Test names are long: the per-test chart's labels get more room, and a name is cut to what fits in
# it at the 11 px font (about 6.2 px a character; seen cut off on the left in Chromium at 42 in 260 px).
SPLIT_LABEL_WIDTH = 320
SPLIT_LABEL_CHARS = 48
MIN_BOX_SAMPLES = 4  # below this a box and p90 say nothing the dots do not: dots and the median only


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (q in 0..100)."""
    rank = max(1, math.ceil(q / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def all_calls(doc: dict[str, Any]) -> list[dict[str, Any]]:
    calls = [c for t in doc.get("tests", []) for c in t.get("cpi_calls", [])]
    return calls + list(doc.get("setup_calls") or [])


def method_stats(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per CPI method, slowest median first."""
    by_method: dict[str, list[float]] = {}
    for call in all_calls(doc):
        by_method.setdefault(call["method"], []).append(float(call.get("duration") or 0.0))
    stats = []
    for method, values in by_method.items():
        values.sort()
        stats.append({"method": method, "n": len(values), "min": values[0], "p25": percentile(values, 25),
                      "median": percentile(values, 50), "p75": percentile(values, 75),
                      "p90": percentile(values, 90), "max": values[-1], "total": sum(values), "values": values})
    return sorted(stats, key=lambda s: (-s["median"], s["method"]))


def method_chart(stats: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A box-and-strip chart on a log time axis: whiskers min..max, box p25..p75, median and p90 marks;
    a method with fewer than MIN_BOX_SAMPLES calls gets its dots and median only."""
    if not stats:
        return None
    lo = 10 ** math.floor(math.log10(max(min(s["min"] for s in stats), 1e-3)))
    hi = 10 ** math.ceil(math.log10(max(max(s["max"] for s in stats), lo * 10)))
    span = CHART_WIDTH - LABEL_WIDTH - 20

    def x(seconds: float) -> float:
        clamped = min(max(seconds, lo), hi)
        return round(LABEL_WIDTH + span * (math.log10(clamped / lo) / math.log10(hi / lo)), 1)

    rows = []
    for i, s in enumerate(stats):
        rows.append({**s, "y": 30 + i * ROW_HEIGHT, "x_min": x(s["min"]), "x_max": x(s["max"]),
                     "x_p25": x(s["p25"]), "x_p75": x(s["p75"]), "x_median": x(s["median"]),
                     "x_p90": x(s["p90"]), "dots": [x(v) for v in s["values"]],
                     "box": s["n"] >= MIN_BOX_SAMPLES})
    ticks = []
    decade = lo
    while decade <= hi * 1.0001:
        ticks.append({"x": x(decade), "label": _seconds_label(decade), "major": True})
        ticks += [{"x": x(decade * m), "label": "", "major": False} for m in (2, 5) if decade * m < hi]
        decade *= 10
    return {"width": CHART_WIDTH, "height": 40 + len(rows) * ROW_HEIGHT, "rows": rows, "ticks": ticks,
            "label_width": LABEL_WIDTH, "bottom": 30 + len(rows) * ROW_HEIGHT - ROW_HEIGHT // 2}


def _seconds_label(seconds: float) -> str:
    return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"


def per_test_split(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per test: seconds inside CPI calls, waiting on the cloud (the witnesses) and on the guest (SSH,
    devices), and the rest (the suite itself: fixtures, probes, requests built, results written)."""
    out = []
    for t in doc.get("tests", []):
        total = float(t.get("duration") or 0.0)
        # a call made ahead (a VM prepared in the background) was off the test's clock: what the
        # test waited for it is in its waits
        cpi = min(sum(float(c.get("duration") or 0.0) for c in t.get("cpi_calls", []) if not c.get("ahead")), total)
        waits = t.get("waits") or {}
        cloud = min(float(waits.get("cloud") or 0.0), total - cpi)
        guest = min(float(waits.get("guest") or 0.0), total - cpi - cloud)
        out.append({"name": t["name"], "nodeid": t["nodeid"], "outcome": t["outcome"], "total": total,
                    "cpi": cpi, "cloud": cloud, "guest": guest, "rest": total - cpi - cloud - guest,
                    "calls": len(t.get("cpi_calls", []))})
    return sorted(out, key=lambda s: -s["total"])


def split_chart(split: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Stacked bars of the slowest tests on a linear axis: CPI calls, cloud waits, guest waits, the rest."""
    shown = [s for s in split if s["total"] > 0][:TOP_TESTS]
    if not shown:
        return None
    longest = max(s["total"] for s in shown)
    span = CHART_WIDTH - SPLIT_LABEL_WIDTH - 70
    rows = []
    for i, s in enumerate(shown):
        x, parts = SPLIT_LABEL_WIDTH, []
        for part in ("cpi", "cloud", "guest", "rest"):
            width = round(span * s[part] / longest, 1)
            parts.append({"class": part, "x": round(x, 1), "w": width})
            x += width
        rows.append({**s, "y": 24 + i * ROW_HEIGHT, "parts": parts, "end": round(x, 1),
                     "label": s["name"] if len(s["name"]) <= SPLIT_LABEL_CHARS else
                     s["name"][:SPLIT_LABEL_CHARS - 1] + "\u2026"})
    return {"width": CHART_WIDTH, "height": 30 + len(rows) * ROW_HEIGHT, "rows": rows,
            "label_width": SPLIT_LABEL_WIDTH, "shown": len(rows), "of": len(split)}


def account(split: list[dict[str, Any]]) -> dict[str, float]:
    """The run's time accounting: the tests' seconds summed by where they went."""
    return {part: sum(s[part] for s in split) for part in ("total", "cpi", "cloud", "guest", "rest")}


def ahead(doc: dict[str, Any]) -> dict[str, float]:
    """The CPI calls made ahead of their tests, in the background, for VMs prepared ahead."""
    calls = [c for c in all_calls(doc) if c.get("ahead")]
    return {"calls": len(calls), "cpi": sum(float(c.get("duration") or 0.0) for c in calls)}


def totals(doc: dict[str, Any]) -> dict[str, float]:
    wall = float(doc.get("finished_at") or 0) - float(doc.get("started_at") or 0)
    cpi = sum(float(c.get("duration") or 0.0) for c in all_calls(doc))
    tests = sum(float(t.get("duration") or 0.0) for t in doc.get("tests", []))
    return {"wall": max(wall, 0.0), "cpi": cpi, "tests": tests, "calls": len(all_calls(doc))}


def run_figures(doc: dict[str, Any]) -> dict[str, Any]:
    """One run's speed figures, for the benchmark (scripts/bench-suite): wall time; the tests' time
    split into CPI calls, cloud waits, guest waits and the suite's own; VM boots (create_vm calls
    answered OK); the critical path, taken as the longest test (a shared VM's boot counts in the first
    test that uses it, so the run cannot end before that test's chain of cloud operations does); the
    workers' busy time; and the ratios a speed-up is judged by."""
    split = per_test_split(doc)
    spent = account(split)
    wall = totals(doc)["wall"]
    calls = all_calls(doc)
    boots = sum(1 for c in calls if c["method"] == "create_vm" and c.get("outcome") == "ok")
    made_ahead = ahead(doc)
    longest = max(split, key=lambda s: s["total"], default=None)
    critical = longest["total"] if longest else 0.0
    workers: dict[str, float] = {}
    for t in doc.get("tests", []):
        workers[t.get("worker") or "main"] = workers.get(t.get("worker") or "main", 0.0) + float(t.get("duration") or 0)
    return {"wall": wall, "tests": len(split), **{k: spent[k] for k in ("cpi", "cloud", "guest", "rest")},
            "vm_boots": boots, "create_vm_calls": sum(1 for c in calls if c["method"] == "create_vm"),
            "ahead_calls": made_ahead["calls"], "ahead_cpi": made_ahead["cpi"],
            "critical_path": critical, "critical_test": longest["name"] if longest else None,
            "workers": workers, "wall_over_critical": wall / critical if critical else None,
            "suite_share": spent["rest"] / wall if wall else None,
            "suite_share_of_tests": spent["rest"] / spent["total"] if spent["total"] else None}


def boot_figures(boots: list[dict[str, Any]]) -> dict[str, Any]:
    """Boot to the first SSH session, from the run folder's boots.jsonl (one line per VM): per
    route (floating_ip, fixed), the count, median, min and max seconds from create_vm sent, and
    the same to the server running."""
    out: dict[str, Any] = {}
    for via in sorted({b.get("via") for b in boots}):
        rows = [b for b in boots if b.get("via") == via]
        to_ssh = sorted(float(b["to_ssh"]) for b in rows)
        running = sorted(float(b["to_running"]) for b in rows if b.get("to_running") is not None)
        out[via] = {"n": len(rows), "ahead": sum(1 for b in rows if b.get("ahead")),
                    "median": percentile(to_ssh, 50), "min": to_ssh[0], "max": to_ssh[-1],
                    "running_median": percentile(running, 50) if running else None}
    return out
