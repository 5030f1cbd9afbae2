"""`conformance report merge`: the release x capability matrix from several runs.

Columns are runs (profile name / release, oldest release first, as the nightly pipeline across
OpenStack releases reads it); rows are the capability rows of the single-run report; each cell is
what that run measured. A run whose results.json fails its digest check is still shown, marked.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from conformance.core.errors import UsageError
from conformance.profile.releases import RELEASES
from conformance.report import capabilities, model, render

RELEASE_ORDER = {name: i for i, name in enumerate(RELEASES)}


def column(run_dir: Path) -> dict[str, Any]:
    doc = model.load(run_dir)
    rows = {r.key: r for r in capabilities.table(doc.get("tests", []))}
    return {"run_dir": str(run_dir), "run_id": doc.get("run_id"), "label": model.run_label(doc),
            "release": (doc.get("profile") or {}).get("release"), "verdict": model.verdict(doc),
            "integrity": model.integrity(doc), "certify": bool(doc.get("certify")), "rows": rows,
            "started_at": doc.get("started_at"), "cpi": cpi_name(doc),
            "surface": (model.surface(doc) or {}).get("description")}


def cpi_name(doc: dict[str, Any]) -> str:
    """The CPI of a run, short: the executable's last path parts (official-openstack-cpi/bin/cpi)."""
    command = (doc.get("cpi") or {}).get("command") or ["?"]
    return "/".join(Path(str(command[0])).parts[-3:])


def context(run_dirs: list[str | Path]) -> dict[str, Any]:
    if not run_dirs:
        raise UsageError("report merge: name at least one run folder")
    columns = [column(Path(d)) for d in run_dirs]
    columns.sort(key=lambda c: (RELEASE_ORDER.get(c["release"] or "", len(RELEASE_ORDER)), c["label"],
                                c["started_at"] or 0))
    keys: list[str] = []
    labels: dict[str, str] = {}
    for c in columns:
        for key, row in c["rows"].items():
            if key not in labels:
                keys.append(key)
                labels[key] = row.label
    order = [k for k, *_ in capabilities.ROWS]
    keys.sort(key=lambda k: (order.index(k) if k in order else len(order), k))
    matrix = [{"key": k, "label": labels[k], "cells": [c["rows"].get(k) for c in columns]} for k in keys]
    return {"columns": columns, "matrix": matrix, "generated_at": time.time()}


def write_matrix(run_dirs: list[str | Path], output: str | Path) -> list[Path]:
    target = Path(output)
    target.mkdir(parents=True, exist_ok=True)
    ctx = context(run_dirs)
    return [render.render("matrix.html.j2", ctx, target / "matrix.html"),
            render.render("matrix.md.j2", ctx, target / "matrix.md")]
