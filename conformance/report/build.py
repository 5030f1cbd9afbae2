"""`conformance report RUN_DIR`: report.html (one self-contained file) and report.md from results.json.

``render_run`` is also what `conformance run` calls at the end of every run; a report that cannot be
rendered is said on one line and never changes the run's exit code.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from conformance.core.errors import ConformanceError
from conformance.report import capabilities, model, render, timing


def context(run_dir: str | Path) -> dict[str, Any]:
    """Everything the report templates show, derived from the run's results.json."""
    run_dir = Path(run_dir)
    doc = model.load(run_dir)
    rows = capabilities.table(doc.get("tests", []))
    stats = timing.method_stats(doc)
    split = timing.per_test_split(doc)
    return {
        "doc": doc, "label": model.run_label(doc), "verdict": model.verdict(doc),
        "integrity": model.integrity(doc), "rows": rows, "skipped_rows": capabilities.skipped_capabilities(rows),
        "fingerprint": model.fingerprint(doc), "stats": stats, "method_chart": timing.method_chart(stats),
        "split": split, "split_chart": timing.split_chart(split), "account": timing.account(split), "totals": timing.totals(doc),
        "ahead": timing.ahead(doc),
        "failures": model.failures(doc, run_dir), "observations": model.observations(doc),
        "resources": model.resources(doc), "ledger": model.ledger(doc), "not_checked": model.not_checked(doc),
        "witness_checks": model.witness_checks(doc), "exit_meaning": model.EXIT_MEANING,
        "tests": sorted(({**t, "label": model.outcome_label(t), "also": model.later_errors(t)}
                         for t in doc.get("tests", [])), key=lambda t: (capabilities.row_key_of(t), t["name"])),
        "generated_at": time.time(),
    }


def write_reports(run_dir: str | Path, output: str | Path | None = None) -> list[Path]:
    run_dir = Path(run_dir)
    target = Path(output) if output else run_dir
    target.mkdir(parents=True, exist_ok=True)
    ctx = context(run_dir)
    return [render.render("report.html.j2", ctx, target / "report.html"),
            render.render("report.md.j2", ctx, target / "report.md")]


def render_run(report_dir: str | Path) -> list[Path]:
    """Called by `conformance run` when the run ends: render, or say in one line why not."""
    try:
        paths = write_reports(report_dir)
    except ConformanceError as exc:
        print(f"conformance report: not rendered: {exc}", file=sys.stderr)
        return []
    except Exception as exc:  # a report bug must not hide the run's own exit code
        print(f"conformance report: not rendered ({type(exc).__name__}: {exc})", file=sys.stderr)
        return []
    for path in paths:
        print(f"conformance report: {path}")
    return paths
