"""Pretrained word vectors -> an embedding matrix ``(V, E)`` whose row ``i`` is token ``i``.

>>> matrix, coverage = load_vectors("glove.6B.100d.txt", vocab)   # doctest: +SKIP
>>> print(coverage)                                                 # doctest: +SKIP
found 9,812 of 10,000 vocabulary tokens (98.1%) in glove.6B.100d.txt (dim 100, 41 by lowercase); missing e.g. ...
>>> model = build_model("cnn", vocab_size=len(vocab), num_classes=2,
...                     embedding_mode="non-static", embeddings=matrix)  # doctest: +SKIP

File formats (``format="auto"`` tells them apart from the first bytes):

==================  ==============================================================
``word2vec``        text; a header line ``count dim``, then ``word v1 ... vdim``
``fasttext``        the same layout (fastText's ``.vec``); fastText ``.bin`` models
                    are not vector files and are refused
``glove``           text without a header line
``word2vec-binary`` header line ``count dim``, then per word ``word<space>`` followed
                    by ``dim`` little-endian float32 (and usually a newline)
==================  ==============================================================

Text lines are split on single spaces only, so a GloVe token holding a non-breaking
space stays one token; a line with more fields than ``dim + 1`` whose extra fields are not
numbers is a token containing spaces (GloVe 840B has some), one whose extras are numbers is
an error. ``.gz`` files are read through gzip.

The file is streamed: only rows for vocabulary tokens are kept, so a multi-GB file needs
``V x E`` floats of memory, not the file's size.

Policy for rows the file does not give:

* PAD (id 0) is always zeros.
* A token missing from the file gets ``oov="uniform"``: uniform(-scale, scale) with
  ``scale=0.25`` (Kim, 2014: close to the variance of word2vec's vectors), from
  ``numpy.random.default_rng(seed)``, so the same call gives the same matrix; or
  ``oov="zeros"``.
* ``lowercase_fallback=True``: a token with no exact entry takes the first entry whose
  lowercase form equals its own (vocab ``london`` <- file ``London``, vocab ``Apple`` <-
  file ``apple``). Exact entries always win.
* UNK gets the file's ``<unk>`` vector if it has one, otherwise the OOV policy; PAD and
  UNK are left out of the coverage counts.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Iterable

import numpy as np
import torch

from .vocabulary import PAD_ID, PAD_TOKEN, UNK_TOKEN

FORMATS = ("auto", "word2vec", "fasttext", "glove", "word2vec-binary")
OOV_POLICIES = ("uniform", "zeros")

_FASTTEXT_BIN_MAGIC = (793712314).to_bytes(4, "little")  # first 4 bytes of a fastText .bin model
_CHUNK = 1 << 20  # binary reader refill size


@dataclass(frozen=True)
class VectorCoverage:
    """How much of the vocabulary a vector file covered (PAD and UNK not counted)."""

    path: str
    dim: int
    total: int  # vocabulary tokens other than PAD and UNK
    found: int  # of those, with a vector from the file (exact or lowercase)
    found_lowercase: int  # of ``found``, matched only through lowercase_fallback
    vectors_read: int  # entries read from the file
    missing_examples: tuple[str, ...]  # the first missing tokens, in id (frequency) order

    @property
    def fraction(self) -> float:
        return self.found / self.total if self.total else 0.0

    def __str__(self) -> str:
        text = (
            f"found {self.found:,} of {self.total:,} vocabulary tokens ({self.fraction:.1%}) in "
            f"{Path(self.path).name} (dim {self.dim}, {self.found_lowercase:,} by lowercase)"
        )
        if self.missing_examples:
            text += "; missing e.g. " + ", ".join(map(repr, self.missing_examples))
        return text


def load_vectors(
    path: str | Path,
    vocab: Iterable[str],
    *,
    format: str = "auto",
    oov: str = "uniform",
    scale: float = 0.25,
    seed: int = 0,
    lowercase_fallback: bool = True,
) -> tuple[torch.Tensor, VectorCoverage]:
    """Read ``path`` and return ``(matrix float32 (len(vocab), dim), coverage)``.

    ``vocab`` is a :class:`~textkit.vocabulary.Vocab` (or its tokens in id order, PAD first).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if oov not in OOV_POLICIES:
        raise ValueError(f"oov must be one of {OOV_POLICIES}, got {oov!r}")
    if oov == "uniform" and not (isinstance(scale, (int, float)) and scale > 0):
        raise ValueError(f"scale must be a number > 0 for oov='uniform', got {scale!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"word vector file not found: {path}")
    tokens = list(vocab)
    if not tokens or tokens[PAD_ID] != PAD_TOKEN:
        raise ValueError(f"vocab must list {PAD_TOKEN!r} first (PAD_ID={PAD_ID}), got {tokens[:1]!r}")

    if format == "auto":
        format = _detect_format(path)
    rows = _Rows(tokens, lowercase_fallback)
    if format == "word2vec-binary":
        read = _read_binary(path, rows)
    else:
        read = _read_text(path, rows, header=format != "glove")
    if rows.matrix is None:
        raise ValueError(f"{path}: no vectors in the file")

    matrix, state = rows.matrix, rows.state
    missing = np.flatnonzero(state == 0)
    if oov == "uniform":
        rng = np.random.default_rng(seed)
        matrix[missing] = rng.uniform(-scale, scale, size=(len(missing), matrix.shape[1]))
    matrix[PAD_ID] = 0.0

    counted = np.array([tok not in (PAD_TOKEN, UNK_TOKEN) for tok in tokens])
    coverage = VectorCoverage(
        path=str(path),
        dim=int(matrix.shape[1]),
        total=int(counted.sum()),
        found=int(((state > 0) & counted).sum()),
        found_lowercase=int(((state == 1) & counted).sum()),
        vectors_read=read,
        missing_examples=tuple(islice((tokens[i] for i in missing if counted[i]), 10)),
    )
    return torch.from_numpy(matrix), coverage


class _Rows:
    """The matrix being filled, and for each token: 0 missing, 1 lowercase match, 2 exact."""

    def __init__(self, tokens: list[str], lowercase_fallback: bool) -> None:
        self.tokens = tokens
        self.index = {tok: i for i, tok in enumerate(tokens)}
        self.lower: dict[str, list[int]] = {}
        if lowercase_fallback:
            for i, tok in enumerate(tokens):
                self.lower.setdefault(tok.lower(), []).append(i)
        self.matrix: np.ndarray | None = None
        self.state = np.zeros(len(tokens), dtype=np.int8)

    def start(self, dim: int) -> None:
        self.matrix = np.zeros((len(self.tokens), dim), dtype=np.float32)

    def wants(self, word: str) -> bool:
        # Most words of a big file are not in the vocabulary: two dict lookups and skip.
        return word in self.index or (bool(self.lower) and word.lower() in self.lower)

    def put(self, word: str, vector: np.ndarray) -> None:
        i = self.index.get(word)
        if i is not None and self.state[i] != 2:  # first exact entry wins
            self.matrix[i] = vector
            self.state[i] = 2
        for j in self.lower.get(word.lower(), ()):
            if self.state[j] == 0:  # first lowercase entry wins, never over an exact one
                self.matrix[j] = vector
                self.state[j] = 1


def _open(path: Path, mode: str) -> IO:
    if path.suffix == ".gz":
        if "b" in mode:
            return gzip.open(path, mode)
        return gzip.open(path, mode, encoding="utf-8", errors="replace", newline="\n")
    if "b" in mode:
        return open(path, mode)
    # newline="\n": only \n ends a line; a stray \r inside a token must not split it.
    return open(path, mode, encoding="utf-8", errors="replace", newline="\n")


def _parse_header(line: bytes | str) -> tuple[int, int] | None:
    parts = line.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        count, dim = int(parts[0]), int(parts[1])
        if dim >= 1:
            return count, dim
    return None


def _detect_format(path: Path) -> str:
    with _open(path, "rb") as f:
        head = f.read(1 << 16)
    if not head:
        raise ValueError(f"{path}: the file is empty")
    if head[:4] == _FASTTEXT_BIN_MAGIC:
        raise ValueError(
            f"{path} is a fastText .bin model, not a vector file; use the .vec file that comes with it"
        )
    first, _, rest = head.partition(b"\n")
    header = _parse_header(first)
    if header is None:
        return "glove"
    # After the header, a text file continues "word v1 ... vdim\n"; a binary one has raw
    # float32 bytes after the word, which practically never read as dim numbers.
    _, _, after_word = rest.partition(b" ")
    fields = after_word.split(b"\n", 1)[0].split()
    try:
        if len(fields) == header[1]:
            [float(x) for x in fields]
            return "word2vec"
    except ValueError:
        pass
    return "word2vec-binary"


def _read_text(path: Path, rows: _Rows, *, header: bool) -> int:
    """Stream a text vector file into ``rows``; returns the number of entries read."""
    read = 0
    dim: int | None = None
    with _open(path, "rt") as f:
        lineno = 0
        if header:
            first = f.readline()
            lineno = 1
            parsed = _parse_header(first)
            if parsed is None:
                raise ValueError(
                    f"{path}, line 1: expected a header 'count dim', got {first[:60]!r} "
                    f"(GloVe files have no header: use format='glove')"
                )
            dim = parsed[1]
            rows.start(dim)
        for lineno, line in enumerate(f, start=lineno + 1):
            line = line.rstrip()
            if not line:
                continue
            if dim is None:  # GloVe: the first line's trailing numbers set the dimension
                fields = line.split(" ")[1:]
                dim = 0
                while dim < len(fields) and _is_number(fields[-1 - dim]):  # stop at a spaced token's rest
                    dim += 1
                if dim < 1:
                    raise ValueError(f"{path}, line {lineno}: expected 'word v1 ... vdim', got {line[:60]!r}")
                rows.start(dim)
            read += 1
            n = line.count(" ")  # C-speed; splitting every line of a big file is the slow part
            if n == dim:
                word = line[: line.index(" ")]
                if rows.wants(word):
                    rows.put(word, _parse_values(line.split(" ")[1:], path, lineno))
            elif n > dim:
                word, *values = line.rsplit(" ", dim)
                if all(_is_number(x) for x in word.split(" ")[1:]):
                    raise ValueError(f"{path}, line {lineno}: expected {dim} values after the word, got {n}")
                if rows.wants(word):  # a token with spaces in it (GloVe 840B has some)
                    rows.put(word, _parse_values(values, path, lineno))
            else:
                raise ValueError(f"{path}, line {lineno}: expected {dim} values after the word, got {n}")
    return read


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_values(values: list[str], path: Path, lineno: int) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float32)
    except ValueError:
        bad = next(v for v in values if not _is_number(v))
        raise ValueError(f"{path}, line {lineno}: {bad[:30]!r} is not a number") from None


def _read_binary(path: Path, rows: _Rows) -> int:
    """Stream a word2vec binary file into ``rows``; returns the number of entries read."""
    with _open(path, "rb") as f:
        first = f.readline()
        parsed = _parse_header(first)
        if parsed is None:
            raise ValueError(f"{path}: expected a binary word2vec header 'count dim', got {first[:60]!r}")
        count, dim = parsed
        rows.start(dim)
        width = 4 * dim
        buf, pos = b"", 0
        for k in range(count):
            while True:  # the word runs up to the next space
                space = buf.find(b" ", pos)
                if space != -1:
                    break
                chunk = f.read(_CHUNK)
                if not chunk:
                    raise _truncated(path, count, dim, k, buf[pos:pos + 40])
                buf, pos = buf[pos:] + chunk, 0
            # word2vec ends each vector with "\n" (most writers do); it prefixes the next word.
            word = buf[pos:space].lstrip(b"\n")
            pos = space + 1
            while len(buf) - pos < width:
                chunk = f.read(_CHUNK)
                if not chunk:
                    raise _truncated(path, count, dim, k, word)
                buf, pos = buf[pos:] + chunk, 0
            text = word.decode("utf-8", errors="replace")
            if rows.wants(text):
                rows.put(text, np.frombuffer(buf, dtype="<f4", count=dim, offset=pos))
            pos += width
    return count


def _truncated(path: Path, count: int, dim: int, k: int, word: bytes) -> ValueError:
    return ValueError(
        f"{path}: binary file is truncated: the header promises {count} vectors of dim {dim}, "
        f"but the file ends inside vector {k + 1} ({word.decode('utf-8', errors='replace')!r})"
    )
