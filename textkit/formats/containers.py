"""Folders and archives of class folders (``[<split>/]<class>/<doc>``), read without
unpacking: tar (gzip, bz2, xz) and zip streamed under the member-size and compression-ratio
limits, links refused; their members are texts or OCR'd page files."""
from __future__ import annotations

import functools
import io
import lzma
import os
import re
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .base import (
    SPLIT_FOLDERS,
    _PAGE_OPTIONS,
    _RAW_READ,
    CorpusError,
    ReadOptions,
    Rows,
    _refuse_page_options,
    check_record_size,
    decode,
)

# ---------------------------------------------------------------- folders and archives


def _safe_member(archive: Path, name: str) -> str:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
        raise CorpusError(f"{archive}: refusing member {name!r}: an absolute path or '..' in an "
                          "archive is unsafe; rebuild it with relative paths")
    return "/".join(p for p in parts if p not in ("", "."))


def _files_in_dir(root: Path, options: ReadOptions) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """The plain files under ``root``, sorted by path. A symbolic link, to a file or a folder,
    inside or outside the corpus, is refused and never followed, as archives refuse theirs: it
    could bring in any file the user can read (``ln -s /etc/passwd pos/p.txt``), or one document
    twice, in train and in test. (``root`` itself may be a link: the user named it.)"""
    def cannot_list(error: OSError) -> None:  # os.walk would skip an unreadable folder silently
        raise CorpusError(f"{root}: cannot list {error.filename} ({error.strerror}); check its permissions")

    found: list[tuple[str, ...]] = []
    for folder, dirs, files in os.walk(root, onerror=cannot_list):  # lists a linked folder, never enters it
        here = Path(folder).relative_to(root).parts
        dirs[:] = [d for d in dirs if not _is_metadata([d])]  # OS litter is never read, so never checked
        files = [f for f in files if not _is_metadata([f])]
        for name in [*dirs, *files]:
            path = Path(folder, name)
            if path.is_symlink():
                raise CorpusError(f"{root}: {'/'.join([*here, name])!r} is a symbolic link (to {os.readlink(path)}); "
                                  f"a corpus folder must hold plain files, as archives must: copy the file in")
            if name in files and not path.is_file():
                raise CorpusError(f"{root}: {'/'.join([*here, name])!r} is a device or pipe, not a plain file; "
                                  f"remove it from the corpus folder")
        found.extend((*here, name) for name in files)
    for parts in sorted(found):
        name = "/".join(parts)
        yield name, functools.partial(_read_file, root.joinpath(*parts), f"{root}, member {name}", options)


def _read_file(path: Path, where: str, options: ReadOptions) -> bytes:
    """A folder corpus's file, refused above ``max_member_bytes`` before it is read."""
    # O_NOFOLLOW: a link swapped in after the listing fails here instead of being followed
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as fh:
        _check_member_size(where, os.fstat(fd).st_size, options)
        data = fh.read(options.max_member_bytes + 1)  # bounded even if the file grows meanwhile
    _check_member_size(where, len(data), options)
    return data


def _check_member_size(where: str, size: int, options: ReadOptions) -> None:
    if size > options.max_member_bytes:
        raise CorpusError(f"{where}: {size:,} bytes, more than max_member_bytes={options.max_member_bytes:,}; "
                          f"if the file is genuine, raise max_member_bytes=")


def _check_ratio(where: str, produced: int, read: int, limit: float) -> None:
    # one raw read more than was counted: bytes read before a member began may hold its start,
    # so this ratio is never above the true one, and a genuine archive is never refused for it
    if produced > limit * (read + _RAW_READ):
        raise CorpusError(f"{where}: decompresses to more than {limit:g} times the compressed bytes read for it "
                          f"({produced:,} bytes from {read:,}; a zip bomb?); if the archive is genuine, raise "
                          f"max_compression_ratio=")


class _Counted(io.RawIOBase):
    """A compressed file, read ``_RAW_READ`` bytes at a time at most, counting what was read."""

    def __init__(self, fh) -> None:
        self.fh, self.count = fh, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.fh.readinto(memoryview(buffer)[:_RAW_READ])
        self.count += n
        return n


class _Inflated(io.RawIOBase):
    """A tar's decompressed bytes, a bounded read at a time, checked against the compressed bytes
    read for them: for the member being read and for the archive so far. So a bomb is refused
    within its first MiBs (about ``limit`` x 64 KiB), never decompressed whole."""

    def __init__(self, stream, counted: _Counted, source: Path, limit: float) -> None:
        self.stream, self.counted, self.source, self.limit = stream, counted, source, limit
        self.produced = 0
        self.start_member(None)

    def readable(self) -> bool:
        return True

    def start_member(self, name: str | None) -> None:
        self.member, self.member_produced, self.member_from = name, 0, self.counted.count

    def readinto(self, buffer) -> int:
        n = self.stream.readinto(buffer)
        self.produced += n
        self.member_produced += n
        read, member_read = self.counted.count, self.counted.count - self.member_from
        if max(self.member_produced / (member_read + _RAW_READ), self.produced / (read + _RAW_READ)) > self.limit:
            member = self.member or "(the first header)"
            _check_ratio(f"{self.source}, member {member}", self.member_produced, member_read, self.limit)
            _check_ratio(f"{self.source} (up to member {member})", self.produced, read, self.limit)
        return n


# the magic bytes tarfile's "r|*" looks for, and the module that inflates each
_COMPRESSIONS = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "lzma"), (b"\x5d\x00\x00\x80", "lzma"))
_READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError)


def _tar_stream(fh, source: Path, options: ReadOptions):
    """``fh`` decompressed (our decompression, not tarfile's: its reads are bounded and counted),
    or ``fh`` itself for a plain tar."""
    head = fh.peek(8)[:8]
    module = next((m for magic, m in _COMPRESSIONS if head.startswith(magic)), None)
    if module is None:
        return fh
    counted = _Counted(fh)
    if module == "gzip":
        import gzip
        stream = gzip.GzipFile(fileobj=counted, mode="rb")
    elif module == "bz2":
        import bz2
        stream = bz2.BZ2File(counted, mode="rb")
    else:
        stream = lzma.LZMAFile(counted, mode="rb")
    return _Inflated(stream, counted, source, options.max_compression_ratio)


def _files_in_tar(path: Path, options: ReadOptions) -> Iterator[tuple[str, Callable[[], bytes]]]:
    # "r|" streams the archive once, in member order: no seeks, no unpacking
    try:
        with open(path, "rb") as fh:
            stream = _tar_stream(fh, path, options)
            with tarfile.open(fileobj=stream, mode="r|", bufsize=_RAW_READ) as tf:
                for member in tf:
                    name = _safe_member(path, member.name)
                    if isinstance(stream, _Inflated):
                        stream.start_member(name)
                    if member.isdir():
                        continue
                    if not member.isfile():
                        raise _not_plain(path, member.name)
                    # read lazily: the consumer calls this before the stream moves on, and skips
                    # members it does not need (aclImdb's unsup/) without decompressing them twice
                    yield name, functools.partial(_read_tar_member, tf, member, f"{path}, member {name}", options)
    except _READ_ERRORS as e:
        raise CorpusError(f"{path}: not a readable tar archive ({type(e).__name__}: {e})") from None


def _not_plain(archive: Path, member: str) -> CorpusError:
    return CorpusError(f"{archive}: member {member!r} is a link or device, not a plain file; archives of "
                       "folders must hold plain files")


def _read_tar_member(tf: tarfile.TarFile, member: tarfile.TarInfo, where: str, options: ReadOptions) -> bytes:
    _check_member_size(where, member.size, options)  # the header's size is what the tar stream holds
    return tf.extractfile(member).read()


def _files_in_zip(path: Path, options: ReadOptions) -> Iterator[tuple[str, Callable[[], bytes]]]:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            for info in infos:
                _safe_member(path, info.filename)  # check every name before reading anything
            totals = [0, 0]  # bytes inflated, and compressed bytes read, by the members read so far
            for info in infos:
                if info.is_dir():
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):  # a Unix link: its "data" is the target's name
                    raise _not_plain(path, info.filename)
                name = _safe_member(path, info.filename)
                yield name, functools.partial(_read_zip_member, zf, info, path, name, options, totals)
    except (zipfile.BadZipFile, OSError, RuntimeError) as e:
        raise CorpusError(f"{path}: not a readable zip archive ({type(e).__name__}: {e})") from None


def _read_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: Path, name: str, options: ReadOptions,
                     totals: list[int]) -> bytes:
    # zipfile reads no more than the directory's compressed size and inflates no more than its
    # file size, so the limits are checked before a byte is inflated: the member's, and (as for
    # a tar) the archive's so far, which many small members can break
    where, limit = f"{source}, member {name}", options.max_compression_ratio
    _check_member_size(where, info.file_size, options)
    _check_ratio(where, info.file_size, info.compress_size, limit)
    totals[0] += info.file_size
    totals[1] += info.compress_size
    _check_ratio(f"{source} (up to member {name})", totals[0], totals[1], limit)
    with zf.open(info) as fh:
        return fh.read()


def _is_metadata(parts: list[str]) -> bool:
    # OS litter, not documents: macOS resource forks (__MACOSX/), .DS_Store and other dotfiles
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _split_folder(name: str) -> tuple[str | None, bool]:
    """``(split, exact)``: "test" is exactly a split; "20news-bydate-test" names one by its end."""
    name = name.lower()
    if name in SPLIT_FOLDERS:
        return SPLIT_FOLDERS[name], True
    return SPLIT_FOLDERS.get(re.split(r"[-_.]", name)[-1]), False


def _read_layout(source: Path, files: Iterable[tuple[str, Callable[[], bytes]]],
                 options: ReadOptions, document: str | None = None) -> list[Rows]:
    """``[<prefix>/][<split>/]<class>/<doc>``: the class is the folder holding each document.

    Every document must sit at the same depth under the same prefix, and either all or none
    under a split folder. With ``options.classes`` only those class folders are read and
    everything else (READMEs, aclImdb's ``unsup/``) is not part of the corpus. Documents are
    texts, or page files in the format ``document`` (None: the first document's name and
    bytes tell, and every other one must be of the same kind).
    """
    wanted = None if options.classes is None else set(options.classes)
    by_split: dict[str | None, Rows] = {}
    exact_splits: set[str | None] = set()
    seen_folders: set[str] = set()
    layout = first = None  # (depth, prefix, has_split) of the first document (named first); all must match
    kind: str | None = None  # what the first document is: a page format, or "text"
    for name, load in files:
        parts = name.split("/")
        if _is_metadata(parts):
            continue
        folder = parts[-2] if len(parts) >= 2 else None
        if folder is not None:
            seen_folders.add(folder)
        if wanted is not None and folder not in wanted:
            nested = next((p for p in parts[:-2] if p in wanted), None)
            if nested is not None:  # skipping it would lose a document of that class
                raise CorpusError(f"{source}: unexpected layout at {name!r}: a subfolder of the class "
                                  f"folder {nested!r}; put documents directly in their class folder")
            continue
        if folder is None:
            raise CorpusError(f"{source}: {name!r} is not inside a class folder; expected "
                              "<class>/<doc> or <split>/<class>/<doc>")
        split, exact = _split_folder(parts[-3]) if len(parts) >= 3 else (None, True)
        if exact:
            exact_splits.add(split)
        this = (len(parts), parts[: -3 if split else -2], split is not None)
        layout, first = layout or this, first or name
        if this != layout:
            raise CorpusError(f"{source}: unexpected layout at {name!r}: it is {_shape(this)}, but {first!r}, "
                              f"read first, is {_shape(layout)}; documents must all be <split>/<class>/<doc> "
                              f"or all <class>/<doc> under one folder (pass label_names= to read only the "
                              f"class folders and skip stray files)")
        rows = by_split.setdefault(split, Rows(str(source), "member", split=split))
        try:
            data = load()
        except _READ_ERRORS as e:
            raise CorpusError(f"{source}, member {name}: cannot read it ({type(e).__name__}: {e})") from None
        where = f"{source}, member {name}"
        this_kind = document or _document_kind(name, data) or "text"
        if kind is None:
            kind = this_kind
            if kind == "text":
                _refuse_page_options(source, options, "text documents")
        elif this_kind != kind:
            raise CorpusError(f"{where}: is {_kind(this_kind)}, but {first!r}, read first, is {_kind(kind)}; "
                              f"a corpus holds one kind of document (pass format= to read them all as one)")
        if kind == "text":
            rows.add(check_record_size(decode(data, where, options), where, options), parts[-2], name)
            continue
        for page in _member_pages(kind, data, where, options):
            rows.add(page.text, parts[-2], name, page)
    missing = sorted((wanted or set()) - {label for r in by_split.values() for label in r.labels})
    if missing:
        raise CorpusError(f"{source}: no documents in a class folder {', '.join(map(repr, missing))}; "
                          f"folders holding documents: {', '.join(sorted(seen_folders)) or 'none'}")
    if not by_split:
        raise CorpusError(f"{source}: no documents found; expected <class>/<doc> or "
                          "<split>/<class>/<doc> files")
    if len(by_split) == 1 and not exact_splits:
        # one folder such as "unit_test/" or "reviews-dev/" is a name, not a split of the corpus;
        # "20news-bydate-test" counts as a split beside "20news-bydate-train"
        rows = next(iter(by_split.values()))
        rows.split = None
        by_split = {None: rows}
    for rows in by_split.values():
        _sort_by_member(rows)
    return list(by_split.values())


def _kind(kind: str) -> str:
    return "a text document" if kind == "text" else f"a page file ({kind})"


def _shape(layout: tuple[int, list[str], bool]) -> str:
    """``(depth, prefix, has_split)`` -> e.g. ``aclImdb/<split>/<class>/<doc>``."""
    _, prefix, has_split = layout
    return "/".join([*prefix, *(["<split>"] if has_split else []), "<class>", "<doc>"])


def _sort_by_member(rows: Rows) -> None:
    # a folder and an archive of it yield the same dataset, whatever order the archive stored
    order = sorted(range(len(rows.where)), key=rows.where.__getitem__)  # stable: a file's pages stay in order
    rows.texts = [rows.texts[i] for i in order]
    rows.labels = [rows.labels[i] for i in order]
    rows.where = [rows.where[i] for i in order]
    if rows.pages is not None:
        rows.pages = [rows.pages[i] for i in order]


def read_folders(path: Path, options: ReadOptions, document: str | None = None) -> list[Rows]:
    """A directory with one folder per class (optionally under train/valid/test folders)."""
    return _read_layout(path, _files_in_dir(path, options), options, document)


def read_tar(path: Path, options: ReadOptions, document: str | None = None) -> list[Rows]:
    """A tar archive (gz/bz2/xz or plain) of the ``folders`` layout, streamed once."""
    return _read_layout(path, _files_in_tar(path, options), options, document)


def read_zip(path: Path, options: ReadOptions, document: str | None = None) -> list[Rows]:
    """A zip archive of the ``folders`` layout, read member by member."""
    return _read_layout(path, _files_in_zip(path, options), options, document)


def _member_pages(document: str, data: bytes, where: str, options: ReadOptions) -> list:
    from ..documents import PARSERS, check_document_options  # documents.py imports this module: loaded on use

    check_document_options(document, {name: getattr(options, name) for name in _PAGE_OPTIONS}, where)
    return PARSERS[document](data, where, options)


def _document_kind(name: str, data: bytes) -> str | None:
    from ..documents import HEAD_BYTES, infer_document_format

    return infer_document_format(name, data[:HEAD_BYTES])
