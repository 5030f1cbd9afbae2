"""Jinja2 environment for the reports: templates shipped as package data, filters for both formats.

Missing fields render empty (a record may be partial or older than the templates).
HTML is autoescaped (test names, reasons and CPI messages are untrusted text); Markdown gets a
cell filter that keeps a message on one table row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.ChainableUndefined,
                             autoescape=jinja2.select_autoescape(["html.j2", "svg.j2"]),
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(secs=seconds, md_cell=md_cell, when=timestamp, css=css_class)
    return env


def render(template: str, context: dict[str, Any], target: Path) -> Path:
    target.write_text(environment().get_template(template).render(**context), encoding="utf-8")
    return target


def seconds(value: float | None) -> str:
    """Durations as people read them: 120 ms, 3.4 s, 2 min 05 s."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(round(value)), 60)
    return f"{minutes} min {rest:02d} s"


def md_cell(value: Any, limit: int = 160) -> str:
    text = " ".join(str("" if value is None else value).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def timestamp(value: float | None) -> str:
    if not value:
        return "-"
    return dt.datetime.fromtimestamp(float(value), tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def css_class(status: str) -> str:
    """yes / no / error / runner error / skipped / known failure / not run / outcomes -> a CSS class name."""
    return {"yes": "ok", "passed": "ok", "no": "bad", "failed": "bad", "xpassed": "bad", "error": "err",
            "runner error": "err",
            "known failure": "warn", "xfailed": "warn", "skipped": "skip", "not run": "none"}.get(status, "none")
