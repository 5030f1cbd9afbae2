"""Merge our settings into the packages' config files; write only when something changes.

Every function returns whether the file changed, so the caller knows whether a running daemon must
be restarted (a warm `up` on a running cloud changes nothing and restarts nothing).
Three formats: oslo.config ini (configparser), uwsgi ini (repeated keys are legal there, so edited
line by line), and libvirt's flat ``key = value`` files.
"""

from __future__ import annotations

import configparser
import io
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

Settings = Mapping[str, Mapping[str, object]]  # section -> option -> value (None deletes)


def render_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def merge_ini_text(text: str, settings: Settings, drop_sections: Iterable[str] = ()) -> str:
    """Pure: the file's text with ``settings`` applied (comments are not kept)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False, default_section="\x00none")
    parser.optionxform = str  # keep option case
    parser.read_string(text)
    for section in drop_sections:
        parser.remove_section(section)
    for section, options in settings.items():
        if not parser.has_section(section):
            parser.add_section(section)
        for option, value in options.items():
            if value is None:
                parser.remove_option(section, option)
            else:
                parser.set(section, option, render_value(value))
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def merge_ini(path: Path, settings: Settings, drop_sections: Iterable[str] = ()) -> bool:
    text = path.read_text() if path.exists() else ""
    return replace_text(path, merge_ini_text(text, settings, drop_sections))


def edit_uwsgi_text(text: str, options: Mapping[str, str | None], append: Iterable[str] = ()) -> str:
    """Pure: set single-valued ``options`` (None removes every line of that key), remove lines
    mentioning apparmor (no apparmor on this kernel), append ``append`` lines when absent."""
    lines, seen = [], set()
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
        if "apparmor" in line and key is not None:
            continue
        if key in options:
            if options[key] is None or key in seen:
                continue
            seen.add(key)
            line = f"{key} = {options[key]}"
        lines.append(line)
    for key, value in options.items():
        if value is not None and key not in seen:
            lines.append(f"{key} = {value}")
    lines += [extra for extra in append if extra not in lines]
    return "\n".join(lines) + "\n"


def edit_uwsgi(path: Path, options: Mapping[str, str | None], append: Iterable[str] = ()) -> bool:
    return replace_text(path, edit_uwsgi_text(path.read_text(), options, append))


def edit_flat_text(text: str, options: Mapping[str, str]) -> str:
    """Pure: libvirt-style ``key = value`` lines; replaces active or commented-out defaults."""
    lines, seen = [], set()
    for line in text.splitlines():
        key = line.lstrip("#").split("=", 1)[0].strip() if "=" in line else None
        if key in options:
            if key in seen or (line.startswith("#") and " " in key):
                continue
            if line.startswith("#") and not _looks_like_setting(line):
                lines.append(line)
                continue
            seen.add(key)
            line = f"{key} = {options[key]}"
        lines.append(line)
    lines += [f"{k} = {v}" for k, v in options.items() if k not in seen]
    return "\n".join(lines) + "\n"


def _looks_like_setting(line: str) -> bool:
    body = line.lstrip("#")
    return body == body.lstrip() and "=" in body


def edit_flat(path: Path, options: Mapping[str, str]) -> bool:
    return replace_text(path, edit_flat_text(path.read_text(), options))


def replace_text(path: Path, text: str) -> bool:
    """Write ``text`` keeping the file's owner and mode (configs hold passwords: 0640 root:svc)."""
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_name(path.name + ".cfm-tmp")
    tmp.write_text(text)
    if path.exists():
        st = path.stat()
        shutil.copymode(path, tmp)
        os.chown(tmp, st.st_uid, st.st_gid)
    os.replace(tmp, path)
    return True
