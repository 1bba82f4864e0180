"""Writing files so that an interrupted run never leaves half of one."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable


def atomic_write(path: str | os.PathLike, write: Callable[[IO[Any]], None], mode: str = "wb",
                 encoding: str | None = None) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, flush it to disk, then rename it
    over ``path``: a kill at any moment leaves either the old file or the new one."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_versioned_json(path: str | os.PathLike, *, name: str, format: str, version: int,
                        missing_hint: str = "") -> tuple[dict, str]:
    """Read a textkit JSON file and check its ``"format"`` and ``"version"``.

    Returns ``(data, source)``, ``source`` naming the file for the caller's own messages.
    Every problem is one error naming the file: missing, not UTF-8, not JSON (line and
    column), another kind of file, a damaged version, or a newer one than this textkit reads.
    """
    from . import __version__

    path = Path(path)
    source = f"{name} file {str(path)!r}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{source} does not exist{missing_hint}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source} is not UTF-8 JSON (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    check_version(data, source, name=name, format=format, version=version, textkit_version=__version__)
    return data, source


def check_version(data: Any, source: str, *, name: str, format: str, version: int, textkit_version: str) -> None:
    """``data`` must be a dict with ``"format": format`` and an int ``"version"`` <= ``version``."""
    if not isinstance(data, dict) or data.get("format") != format:
        raise ValueError(f"{source} is not a textkit {name} (expected \"format\": \"{format}\")")
    if "version" not in data:
        raise ValueError(f"{source} is missing the key 'version'; the file is damaged")
    found = data["version"]
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise ValueError(f"{source} has an invalid {name} format version {found!r} "
                         f"(expected an int >= 1); the file is damaged")
    if found > version:
        raise ValueError(f"{source} has {name} format version {found!r}; this textkit ({textkit_version}) "
                         f"reads versions up to {version}: upgrade textkit")
