"""Reading untrusted YAML and JSON files within fixed limits: size, encoding, depth, alias expansion,
number size, duplicate keys, special files.

    doc = load_yaml_file("profiles/x.yml")      # raises LoadError(key_path, problem)
    doc = load_json_file("cpi.json")

Every limit is checked before the document is built or walked, so a hostile file costs at most
MAX_FILE_BYTES of reading and a bounded walk: a FIFO is refused without blocking (opened with
O_NONBLOCK, then fstat'ed), /dev/zero and directories are refused as not regular files, a "billion
laughs" YAML is refused by counting the nodes its aliases would expand to (never by expanding them),
and no part of a refused document is formatted into the message.
"""

from __future__ import annotations

import json
import math
import os
import stat
from typing import Any

import yaml

MAX_FILE_BYTES = 1024 * 1024     # a profile is a few KB; PyYAML reads ~1 MB/s in pure Python
MAX_DEPTH = 64                   # nesting of mappings and lists
MAX_NODES = 50_000               # nodes of the document once aliases are expanded
MAX_ALIASES = 100                # alias nodes (*name) in one YAML document
MAX_NUMBER_DIGITS = 100          # an integer literal longer than this is refused


class LoadError(ValueError):
    """A file that cannot be loaded. ``path`` is the key path inside it ('' for the whole file)."""

    def __init__(self, path: str, problem: str):
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}" if path else problem)


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_bounded(name: str | os.PathLike, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. Never blocks on a FIFO."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise LoadError("", f"cannot read: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((k for test, k in _KINDS if test(mode)), "not a regular file")
            raise LoadError("", f"is {kind}, not a regular file")
        chunks, size = [], 0
        while chunk := os.read(fd, min(65536, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise LoadError("", f"larger than {limit // 1024} KiB: refused")
        return b"".join(chunks)
    except OSError as exc:
        raise LoadError("", f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)


def decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LoadError("", f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column {column}") from None


# -- YAML -----------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader with a depth limit while composing and an alias count."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise LoadError("", f"more than {MAX_ALIASES} YAML aliases (*name): refused"
                                + _mark(self.peek_event().start_mark))
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise LoadError("", f"nested deeper than {MAX_DEPTH} levels" + _mark(self.peek_event().start_mark))
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _mark(mark) -> str:
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def load_yaml(text: str) -> Any:
    """One YAML document, checked before it is constructed. Raises LoadError."""
    loader = None
    try:
        loader = _Loader(text)  # the reader already refuses NUL and other control characters
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node)
        _check_tree(node, "", 0)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0][:200]
        if isinstance(exc, yaml.reader.ReaderError):
            problem = f"unacceptable character #x{exc.character:04x} at position {exc.position}"
        raise LoadError("", f"invalid YAML{_mark(mark)}: {problem}") from None
    except RecursionError:  # a safety net: the limits above should stop it first
        raise LoadError("", "nested too deep") from None
    except ValueError as exc:
        if isinstance(exc, LoadError):
            raise
        raise LoadError("", f"unusable value: {str(exc)[:200]}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_expanded_size(root) -> None:
    """Count the nodes the document has once every alias is expanded, without expanding it."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise LoadError("", "a YAML alias refers to a node that contains it (a recursive document)")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        total = min(total, MAX_NODES + 1)
        sizes[key] = total
        if total > MAX_NODES:
            raise LoadError("", f"more than {MAX_NODES} values once its aliases are expanded: refused")
        return total

    size(root)


def _check_tree(node, path: str, depth: int) -> None:
    """Duplicate keys, oversized numbers and the nesting of the expanded document, named by key path."""
    if depth > MAX_DEPTH:
        raise LoadError(path, f"nested deeper than {MAX_DEPTH} levels once its aliases are expanded")
    if isinstance(node, yaml.ScalarNode):
        if node.tag.endswith((":int", ":float")) and len(node.value) > MAX_NUMBER_DIGITS:
            raise LoadError(path, f"a number of {len(node.value)} characters: refused (at most {MAX_NUMBER_DIGITS})")
        return
    if isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _check_tree(child, f"{path}[{i}]", depth + 1)
        return
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            _check_tree(value_node, path, depth + 1)
            continue
        name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "<complex key>"
        shown = name if len(name) <= 60 else name[:60] + "..."
        child = f"{path}.{shown}" if path else shown
        if isinstance(key_node, yaml.ScalarNode) and name in seen:
            raise LoadError(child, f"duplicate key (first at line {seen[name] + 1}, again at line "
                                   f"{key_node.start_mark.line + 1})")
        seen[name] = key_node.start_mark.line
        _check_tree(key_node, child, depth + 1)
        _check_tree(value_node, child, depth + 1)


# -- JSON -----------------------------------------------------------------------------------


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise LoadError("", f"a number of {len(text)} digits: refused (at most {MAX_NUMBER_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise LoadError("", f"the number {text[:40]} is out of range")
    return value


def _parse_constant(name: str):
    raise LoadError("", f"{name} is not a JSON number")


def loads_json(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """JSON within limits: finite numbers of bounded size, bounded nesting. Raises LoadError."""
    if isinstance(text, bytes):
        text = decode_utf8(text)
    try:
        doc = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except RecursionError:
        raise LoadError("", f"nested deeper than {max_depth} levels") from None
    except LoadError:
        raise
    except ValueError as exc:
        raise LoadError("", f"not valid JSON: {str(exc)[:200]}") from None
    if depth_exceeds(doc, max_depth):
        raise LoadError("", f"nested deeper than {max_depth} levels")
    return doc


def depth_exceeds(doc: Any, max_depth: int) -> bool:
    """Whether lists/objects nest deeper than ``max_depth`` (iterative: safe for any depth)."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                return True
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return False


def load_yaml_file(name: str | os.PathLike) -> Any:
    return load_yaml(decode_utf8(read_bounded(name)))


def load_json_file(name: str | os.PathLike) -> Any:
    return loads_json(read_bounded(name))
