"""Writing files so that an interrupted run never leaves half of one."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import socket
import tempfile
from pathlib import Path
from typing import IO, Any, Callable


def atomic_write(path: str | os.PathLike, write: Callable[[IO[Any]], None], mode: str = "wb",
                 encoding: str | None = None, *, sweep: bool = True) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, flush it to disk, then rename it
    over ``path``: a kill at any moment leaves either the old file or the new one.

    The temporary file is ``.<name>.<pid>-<host>-XXXXXXXX.tmp`` (see :func:`temporary_owner`);
    ``sweep`` first removes those of ``path`` that a killed run left (see
    :func:`remove_stale_temporaries`). A caller writing thousands of files into one folder
    passes ``sweep=False`` and sweeps the folder once itself: each sweep lists the folder.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist")
    if sweep:
        remove_stale_temporaries(path.parent, name=path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{temporary_owner()}-", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); the finished file gets what open() would have given
        # it (0666 less the umask), like every other output, so a shared model folder stays readable
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, mode, encoding=encoding) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (``os.umask`` can only
    be read by setting it, a moment in which another thread's files would get the wrong mode)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# A temporary file of atomic_write: "." name "." pid "-" host "-" mkstemp's 8 characters ".tmp".
_TEMP_FILE = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]{1,10})-(?P<host>[0-9a-f]{8})-[a-z0-9_]{8}\.tmp")


def temporary_owner(pid: int | None = None) -> str:
    """``<pid>-<host>``, the part of every temporary name textkit makes that says whose it is:
    the process (this one by default) and a hash of the machine's name, since a folder on a
    shared disk can hold temporaries of runs on other machines, whose pids mean nothing here."""
    return f"{os.getpid() if pid is None else pid}-{_host_id()}"


@functools.lru_cache(maxsize=1)
def _host_id() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]


def owner_is_gone(pid: int, host: str) -> bool:
    """True only when the run that named a temporary ``<pid>-<host>`` has certainly ended: it ran
    on this machine and no process ``pid`` exists now.

    Every doubt keeps the temporary: another machine's run; a pid that exists (alive, a
    zombie, another user's: ``PermissionError``, or a reused pid, which only delays the
    cleanup until a later run finds it free); Windows, where ``os.kill(pid, 0)`` would not
    probe but stop the process."""
    if host != _host_id() or pid == os.getpid() or os.name == "nt":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):
        return False
    return False


def remove_stale_temporaries(folder: str | os.PathLike, *, name: str | None = None,
                             recursive: bool = False) -> list[Path]:
    """Remove the temporary files of :func:`atomic_write` in ``folder`` (only those for the file
    ``name``, if given; subfolders too if ``recursive``) whose run was killed
    (:func:`owner_is_gone`); returns them.

    Only regular files matching the exact temporary name are touched, so a user's file (even
    one named ``.notes.tmp``) and a live run's temporaries are never removed.
    """
    removed = []
    walk = os.walk(folder) if recursive else [(folder, [], _files_in(folder))]
    for root, _, files in walk:
        for entry in files:
            match = _TEMP_FILE.fullmatch(entry)
            if match is None or (name is not None and match["name"] != name):
                continue
            path = Path(root) / entry
            if owner_is_gone(int(match["pid"]), match["host"]) and path.is_file() and not path.is_symlink():
                try:
                    path.unlink()
                    removed.append(path)
                except FileNotFoundError:  # another run removed it first
                    pass
    return removed


def _files_in(folder: str | os.PathLike) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(folder) if not entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


# Every textkit JSON file is read through loads_json, with this limit on nesting. textkit's own files
# nest 4 levels at most (a layout pipeline, its text layer, its vocabulary, its token list); a
# file nested 1,000 levels deep made json raise RecursionError (a traceback), and a depth under
# that still made every later recursive walk (copies, digests) pay for it. Raise it, if a file
# of yours needs more, by setting textkit.fileio.MAX_JSON_DEPTH or passing max_depth=.
MAX_JSON_DEPTH = 64


def loads_json(text: str, source: str, *, max_depth: int | None = None) -> Any:
    """``json.loads(text)`` with textkit's nesting limit, ``max_depth`` (default
    :data:`MAX_JSON_DEPTH`) levels of arrays and objects inside each other.

    A deeper document is a ``ValueError`` naming ``source`` (e.g. ``"pipeline file 'p.json'"``);
    a document that is not JSON raises ``json.JSONDecodeError`` as ``json`` does, for the
    caller to place by line and column in its own words.
    """
    limit = MAX_JSON_DEPTH if max_depth is None else max_depth
    too_deep = ValueError(f"{source} nests JSON arrays and objects more than {limit} levels deep "
                          f"(textkit.fileio.MAX_JSON_DEPTH); no textkit file does: it is damaged or not "
                          f"a textkit file")
    try:
        data = json.loads(text)
    except RecursionError:  # deeper than the interpreter's stack: past any sensible limit too
        raise too_deep from None
    if nesting_exceeds(data, limit):
        raise too_deep
    return data


def nesting_exceeds(data: Any, limit: int) -> bool:
    """Whether ``data`` nests containers deeper than ``limit``, found level by level without
    recursion; a level's scalars are skipped at C speed (a 2M-token vocabulary: ~40 ms)."""
    level, depth = [data], 0
    while level:
        containers = [node for node in level if type(node) in (dict, list)]
        if not containers:
            return False
        depth += 1
        if depth > limit:
            return True
        level = []
        for node in containers:
            children = node.values() if type(node) is dict else node
            kinds = set(map(type, children))
            if dict in kinds or list in kinds:
                level.extend(children)
    return False


def is_number(value: Any) -> bool:
    """An int or a float, not a bool (JSON's numbers; ``True`` is not 1 in a config)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words, for messages about a damaged file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    kinds = ((str, "a string"), (dict, "an object"), (list, "an array"), ((int, float), "a number"))
    return next((f"{name} {json.dumps(value)[:40]}" if name == "a number" else name)
                for kind, name in kinds if isinstance(value, kind))


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read 1 MB at a time (a model is never in memory twice)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def json_sha256(data: Any) -> str:
    """sha256 of JSON data in canonical form (sorted keys, no spaces, ASCII escapes): the digest
    of what a JSON file says, not of its bytes, so another indentation, key order or line
    ending (git's autocrlf, an editor) leaves it unchanged, and any changed value changes it."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def read_json(path: str | os.PathLike, *, name: str, missing_hint: str = "") -> tuple[Any, str]:
    """Read a JSON file through :func:`loads_json`; returns ``(data, source)``, ``source``
    (``"<name> file '<path>'"``) naming the file for the caller's own messages. Every problem is
    one error naming the file: missing, not UTF-8, not JSON (line and column), nested too deep."""
    path = Path(path)
    source = f"{name} file {str(path)!r}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{source} does not exist{missing_hint}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source} is not UTF-8 JSON (byte {exc.start})") from None
    try:
        return loads_json(text, source), source
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def read_versioned_json(path: str | os.PathLike, *, name: str, format: str, version: int,
                        missing_hint: str = "") -> tuple[dict, str]:
    """Read a textkit JSON file (:func:`read_json`) and check its ``"format"`` and ``"version"``.

    Returns ``(data, source)``, ``source`` naming the file for the caller's own messages.
    Every problem is one error naming the file: missing, not UTF-8, not JSON (line and
    column), nested too deep, another kind of file, a damaged version, or a newer one than
    this textkit reads.
    """
    from . import __version__

    data, source = read_json(path, name=name, missing_hint=missing_hint)
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
