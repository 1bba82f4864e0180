"""``textkit predict``: labels for texts (arguments, a file or stdin, streamed) or page files."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import (
    free_threads,
    model_directory,
)

# ---------------------------------------------------------------- predict


def cmd_predict(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    page_flags = [flag for flag, value in (("--format", args.format), ("--min-confidence", args.min_confidence),
                                           ("--page-size", args.page_size)) if value is not None]
    sources = text_sources(args)
    model_dir = model_directory(args.model_dir)
    with free_threads(args):
        return _predict(args, model_dir, sources, page_flags)


def _predict(args: argparse.Namespace, model_dir: Path, sources: list, page_flags: list[str]) -> int:
    from itertools import chain, islice

    from .. import TextClassifier

    clf = TextClassifier.load(model_dir, device=args.device)
    classes = [str(c) for c in clf.classes_]
    if clf.reads_pages:
        return _predict_pages(args, clf, chain.from_iterable(sources))
    if page_flags:
        raise ValueError(f"{', '.join(page_flags)} are for a grid model's page files; this model reads texts")
    texts = chain.from_iterable(sources)
    empty: list[int] = []  # 1-based positions of empty texts, said at the end
    done = 0
    while True:  # batch by batch: a large file never sits in memory whole
        batch = list(islice(texts, args.batch_size))
        if not batch:
            break
        probs = clf.predict_proba(batch)
        # single-label: the argmax of these probabilities is what clf.predict returns
        labels = clf.predict(batch) if clf.multi_label else [clf.classes_[i] for i in probs.argmax(axis=1)]
        for text, label, row in zip(batch, labels, probs):
            done += 1
            record = {"text": text, "label": label}
            if not text.strip():  # still one output per input, so that outputs stay aligned with lines
                record["empty"] = True
                empty.append(done)
            if args.proba:
                record["probabilities"] = {c: round(float(p), 6) for c, p in zip(classes, row)}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (f" and {len(empty) - 5:,} more" if len(empty) > 5 else "")
        print(f"textkit: warning: {len(empty):,} empty text(s) (input {shown}): a label without words comes from "
              f"the model's biases alone; their records say \"empty\": true", file=sys.stderr)
    return 0


def _predict_pages(args: argparse.Namespace, clf, paths) -> int:
    """A grid model labels page files (one JSON object per page), a batch of pages at a time."""
    from itertools import islice

    from ..documents import read_document

    options = {"min_confidence": args.min_confidence, "page_size": tuple(args.page_size) if args.page_size else None}
    classes = [str(c) for c in clf.classes_]
    paths = iter(paths)
    while True:
        batch = []  # (file, page)
        for path in islice(paths, args.batch_size):
            batch += [(path, page) for page in read_document(path, args.format, **options)]
        if not batch:
            return 0
        probs = clf.predict_proba([page for _, page in batch])
        for (path, page), row in zip(batch, probs):
            record = {"file": path, "page": page.number, "label": clf.classes_[int(row.argmax())]}
            if args.proba:
                record["probabilities"] = {c: round(float(p), 6) for c, p in zip(classes, row)}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def text_sources(args: argparse.Namespace) -> list:
    """The texts of predict and explain: the arguments, then --file or stdin, each read lazily."""
    sources = [iter(args.texts)]
    if args.file:
        sources.append(_lines(args.file, args.encoding, args.max_record_chars))
    elif not args.texts:
        if sys.stdin is None or sys.stdin.isatty():
            raise ValueError(f"no texts: pass them as arguments, with --file FILE, or on stdin (echo 'a text' | "
                             f"textkit {args.command} MODEL_DIR)")
        sources.append(_lines("-", args.encoding, args.max_record_chars))
    return sources


def _lines(path: str, encoding: str, max_chars: int | None = None):
    """One text per line of ``path`` ('-': stdin), line breaks removed, read lazily.

    The file is checked now (before the model loads); its lines are read as they are needed,
    in blocks, so a line longer than ``max_chars`` (default: the corpus readers' limit) is
    refused once it is that long, never held whole.
    """
    import codecs
    from itertools import chain

    from ..formats import DEFAULT_MAX_RECORD_CHARS

    codecs.lookup(encoding)  # LookupError (exit 2) for an unknown --encoding, now
    limit = DEFAULT_MAX_RECORD_CHARS if max_chars is None else max_chars
    if limit < 1:
        raise ValueError(f"--max-record-chars must be >= 1, got {limit}")
    if path != "-" and Path(path).is_dir():
        raise IsADirectoryError(f"{path}: is a folder; --file takes a file with one text per line")
    if path != "-" and not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file (working directory: {Path.cwd()})")
    name = "stdin" if path == "-" else path

    def too_long(line: int) -> ValueError:
        return ValueError(f"{name}, line {line}: longer than {limit:,} characters (a line break missing?); if texts "
                          f"this long are real, raise --max-record-chars")

    def decoded(blocks):
        # bytes, decoded block by block; an undecodable byte is reported with its line
        decoder = codecs.getincrementaldecoder(encoding)()
        pending, done, first = "", 0, True
        for raw in chain(blocks, [None]):
            try:  # None: the end, where a cut-off multi-byte character is an error too
                text = decoder.decode(b"", final=True) if raw is None else decoder.decode(raw)
            except UnicodeDecodeError as e:
                before = bytes(e.object[:e.start]).decode(encoding, "replace")
                raise ValueError(f"{name}, line {done + 1 + before.count(chr(10))}: cannot decode "
                                 f"{e.object[e.start:e.end]!r} as {encoding}; pass --encoding (e.g. latin-1 or "
                                 f"cp1252)") from None
            except UnicodeError as e:  # a whole-stream problem, e.g. utf-16 without its byte order mark
                raise ValueError(f"{name}, line {done + 1}: cannot decode it as {encoding} ({e}); "
                                 f"pass --encoding (e.g. latin-1 or cp1252)") from None
            if first and text:
                text, first = text.removeprefix("\ufeff"), False  # a BOM is not text
            *lines, pending = (pending + text).split("\n")  # \n only, as everywhere in textkit
            for line in lines:
                done += 1
                if len(line) > limit + 1:  # + 1: the "\r" of a "\r\n"
                    raise too_long(done)
                yield line.removesuffix("\r")
            if len(pending) > limit + 1:
                raise too_long(done + 1)
        if pending:
            yield pending.removesuffix("\r")

    def read():
        if path == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            # read1: what has arrived, so that texts piped in one at a time are labelled as they come
            read_some = getattr(stdin, "read1", None) or getattr(stdin, "read", None)
            yield from decoded(iter(lambda: read_some(1 << 20), b"") if stdin is not None else
                               (line.encode(encoding) for line in sys.stdin))
            return
        with open(path, "rb") as stream:
            yield from decoded(iter(lambda: stream.read(1 << 20), b""))

    return read()
