"""Output folders: built aside and renamed when complete, marked as textkit's, and replaced by
``--overwrite`` only when they hold nothing else.

A command writes into a temporary sibling of ``out`` (``out.tmp-<pid>-<host>-...``) and renames
it to ``out`` at the end, so an interrupted run leaves no half-written output; a later run on
the same ``out`` removes what a killed one left (only once that process is gone), unless it
continues it (``resume=True``: training keeps its checkpoints there when interrupted). Every output
holds ``MARKER_FILE``, the files and folders textkit wrote there and the command that wrote
them: ``--overwrite`` replaces a folder only if it is empty or holds that marker and nothing it
does not list, written by the same command. Light on purpose (no torch, no datasets), so that
commands check their ``--out`` before any heavy import.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import sys
from pathlib import Path
from typing import Iterator

from . import __version__
from .fileio import owner_is_gone, read_versioned_json, temporary_owner

# Written into every output directory: what textkit wrote there. `overwrite=True` replaces a
# directory only if it is empty or holds this and nothing it does not list.
MARKER_FILE = ".textkit-output.json"
MARKER_FORMAT, MARKER_VERSION = "textkit.output", 1
# What output of textkit from before the marker holds: named in the refusal, never deleted.
LEGACY_OUTPUT_FILES = ("report.json", "metrics.json")  # preprocess and train/evaluate


@contextlib.contextmanager
def atomic_directory(out: str | os.PathLike, *, overwrite: bool = False, kind: str | None = None,
                     resumable: bool = False, resume: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``out`` to fill; rename it to ``out`` when the block ends.

    ``resumable``: work that checkpoints into the directory (training) keeps it when the block
    is interrupted (Ctrl-C, SIGTERM; a ``kill -9`` keeps it anyway), so that ``resume=True``
    on the same ``out`` continues in it (:func:`interrupted_run`) instead of the next run
    removing it as stale. A resumed directory is kept on any error, as the work in it is the
    user's.

    On an exception (Ctrl-C included) the temporary directory, and any parent folder this
    call created, are removed and ``out`` is untouched. When the block ends, ``MARKER_FILE``
    is written into the directory, listing what the block put there. ``out`` must not exist
    unless ``overwrite``, and then it must be empty or hold a marker and nothing the marker
    does not list (:func:`check_output_directory`): a typo such as ``--out ~`` never deletes a
    home directory, and a note the user added to a run folder is never lost. ``kind`` names what
    is written (the command: ``"train"``, ``"evaluate"``, ``"preprocess"``); it is recorded in the
    marker, and an output of another kind is never replaced (``evaluate --out`` a training run's
    folder would delete its model).
    """
    out = Path(out)
    adopted = interrupted_run(out) if resume else None
    if adopted is not None:  # renamed as this process's, before the check below sweeps stale ones
        tmp = _fresh_sibling(out, "tmp", create=False)
        os.replace(adopted, tmp)
    check_output_directory(out, overwrite=overwrite, kind=kind)
    created = [p for p in reversed(out.parents) if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    if adopted is None:
        tmp = _fresh_sibling(out, "tmp")
    try:
        yield tmp
        _write_marker(tmp, kind)
        check_output_directory(out, overwrite=overwrite, kind=kind)  # it may have appeared meanwhile
        if out.exists():
            old = _fresh_sibling(out, "old")
            os.replace(out, old / out.name)
            os.replace(tmp, out)  # a kill -9 just before this: the next run puts old back
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException as exc:
        if (resumable and isinstance(exc, KeyboardInterrupt)) or adopted is not None:
            raise  # kept for resume=True; its name says its owner is gone once this process is
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        raise


def _fresh_sibling(out: Path, kind: str, create: bool = True) -> Path:
    """A new empty directory ``<out>.<kind>-<pid>-<host>-XXXXXXXX`` beside ``out``, with the usual
    permissions (``os.mkdir`` applies the umask; ``tempfile.mkdtemp`` would make it private,
    0700). The owner in the name lets a later run tell a killed run's directory from a live one.
    ``create=False``: only a free name of that form (to rename a directory to)."""
    for _ in range(100):
        path = out.with_name(f"{out.name}.{kind}-{temporary_owner()}-{secrets.token_hex(4)}")
        if not create:
            if not os.path.lexists(path):
                return path
            continue
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary directory beside {out}")


def _sibling_pattern(out: Path) -> re.Pattern:
    return re.compile(rf"{re.escape(out.name)}\.(?P<kind>tmp|old)-(?P<pid>[0-9]{{1,10}})-(?P<host>[0-9a-f]{{8}})"
                      rf"-[0-9a-f]{{8}}")


def interrupted_run(out: str | os.PathLike) -> Path | None:
    """The temporary directory of the latest interrupted run on ``out`` (its process gone),
    or None: what ``atomic_directory(out, resume=True)`` continues in."""
    out = Path(out)
    pattern = _sibling_pattern(out)
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return None
    found = []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if (match and match["kind"] == "tmp" and entry.is_dir(follow_symlinks=False)
                and owner_is_gone(int(match["pid"]), match["host"])):
            found.append((entry.stat(follow_symlinks=False).st_mtime, Path(entry.path)))
    return max(found)[1] if found else None


def _remove_stale_siblings(out: Path) -> None:
    """Remove the ``<out>.tmp-*`` and ``<out>.old-*`` directories that killed runs left beside
    ``out``: exactly :func:`_fresh_sibling`'s names, whose process is gone (``owner_is_gone``).
    A run killed between its two renames left ``out`` moved into an ``.old-`` directory and
    no ``out``: that previous output is put back rather than deleted."""
    pattern = _sibling_pattern(out)
    try:
        entries = list(os.scandir(out.parent))
    except OSError:  # no parent yet (nothing to clean), or not a folder (check_output_directory says so)
        return
    stale = []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and entry.is_dir(follow_symlinks=False) and owner_is_gone(int(match["pid"]), match["host"]):
            stale.append((match["kind"] != "old", Path(entry.path)))
    for is_tmp, path in sorted(stale):  # .old- first: a previous output is restored before anything else
        if not is_tmp and not os.path.lexists(out):
            with contextlib.suppress(OSError):  # not there (killed before the first rename), or restored by a rival
                os.replace(path / out.name, out)
        shutil.rmtree(path, ignore_errors=True)


def check_output_directory(out: Path, *, overwrite: bool, kind: str | None = None) -> None:
    """Raise ``FileExistsError`` unless ``out`` may be written (see :func:`atomic_directory`).

    First removes what killed runs left beside ``out`` (:func:`_remove_stale_siblings`): this
    runs before any work, so the next run on the same ``out`` cleans up even if it fails."""
    out = Path(out)
    _remove_stale_siblings(out)
    if not out.exists():
        blocked = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
        if blocked is not None:  # mkdir would fail only at the end, after all the work
            raise FileExistsError(f"--out {out}: {blocked} is a file, not a folder; choose another --out")
        return
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory; choose another --out")
    if not overwrite:
        raise FileExistsError(f"{out} already exists; pass --overwrite to replace it, or choose another --out")
    if not any(out.iterdir()):
        return
    marker = out / MARKER_FILE
    if not marker.is_file() or marker.is_symlink():
        legacy = any((out / name).exists() for name in LEGACY_OUTPUT_FILES)
        raise FileExistsError(f"{out} is not empty and does not look like textkit output (no {MARKER_FILE}"
                              f"{'; output of textkit from before that mark has none' if legacy else ''}); "
                              f"--overwrite deletes only what textkit wrote: delete the folder yourself if "
                              f"nothing in it is needed, or choose another --out")
    files, folders, written_by = _read_marker(marker, out)
    if kind is not None and written_by is not None and written_by != kind:
        raise FileExistsError(f"{out} holds the output of 'textkit {written_by}' (see {marker}); --overwrite replaces "
                              f"only the output of the same command, not with that of 'textkit {kind}': choose "
                              f"another --out")
    unlisted = _unlisted(out, files, folders)
    if unlisted:
        more = f" (and {len(unlisted) - 1} more)" if len(unlisted) > 1 else ""
        raise FileExistsError(f"{unlisted[0]}{more} was not written by textkit (it is not listed in {marker}) "
                              f"and --overwrite would delete it: move it out of {out}, or choose another --out")


def _write_marker(folder: Path, kind: str | None = None) -> None:
    """Write ``MARKER_FILE`` into ``folder``: every file and folder in it, all textkit's."""
    files, folders = [], []
    for here, dirs, names in os.walk(folder):  # links are not followed: a link is listed as a file
        base = Path(here).relative_to(folder)
        for name in dirs:
            (files if os.path.islink(os.path.join(here, name)) else folders).append((base / name).as_posix())
        files.extend((base / name).as_posix() for name in names)
    marker = {
        "format": MARKER_FORMAT,
        "version": MARKER_VERSION,
        "textkit_version": __version__,
        "command": _command_line(),
        "kind": kind,
        "about": "written by textkit: --overwrite replaces this folder only while it holds nothing but "
                 "the files and folders listed here",
        "folders": sorted(folders),
        "files": sorted(f for f in files if f != MARKER_FILE),
    }
    (folder / MARKER_FILE).write_text(json.dumps(marker, ensure_ascii=False, indent=1) + "\n", encoding="utf-8",
                                      errors="backslashreplace")


def _command_line() -> str:
    """This process's command, as a reader of the marker would type it."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program == "__main__.py":  # python -m PACKAGE
        program = f"python -m {Path(sys.argv[0]).parent.name}"
    return " ".join([program, *map(shlex.quote, sys.argv[1:])])


def _read_marker(marker: Path, out: Path) -> tuple[set[str], set[str], str | None]:
    """The files and folders ``marker`` lists, and the kind of output it marks; a damaged marker
    refuses the overwrite."""
    try:
        data, source = read_versioned_json(marker, name="output marker", format=MARKER_FORMAT,
                                           version=MARKER_VERSION)
        lists = [data.get("files"), data.get("folders")]
        if not all(isinstance(x, list) and all(isinstance(item, str) for item in x) for x in lists):
            raise ValueError(f"{source} has no lists of strings \"files\" and \"folders\"; the file is damaged")
        if not isinstance(data.get("kind"), (str, type(None))):
            raise ValueError(f"{source}: \"kind\" must be a command's name; the file is damaged")
    except (OSError, ValueError, RecursionError) as exc:
        raise FileExistsError(f"{out}: {exc}; refusing to delete {out} for --overwrite: delete it yourself, "
                              f"or choose another --out") from None
    return set(lists[0]), set(lists[1]), data.get("kind")


def _unlisted(out: Path, files: set[str], folders: set[str]) -> list[Path]:
    """What under ``out`` the marker does not list, sorted: an unlisted folder is named, not
    its contents (which are not even listed: ``--out ~`` with a stray marker stays quick)."""
    found, listed = [], files | {MARKER_FILE}
    for here, dirs, names in os.walk(out, onerror=_raise):  # links are not followed, as rmtree does not
        base = Path(here).relative_to(out)
        for name in list(dirs):
            if os.path.islink(os.path.join(here, name)):
                names.append(name)  # removed as a file would be, so listed as one
            elif (base / name).as_posix() not in folders:
                found.append(out / base / name)
                dirs.remove(name)
        found.extend(out / base / name for name in names if (base / name).as_posix() not in listed)
    return sorted(found)


def _raise(error: OSError) -> None:
    raise error  # an unreadable folder inside out cannot be checked, so it is not deleted either
