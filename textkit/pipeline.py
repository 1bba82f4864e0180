"""Stages 1-4 composed: raw texts -> ``Batch``; saved and restored as one JSON file.

::

    pipe = TextPipeline(max_length=256).fit(train_texts)   # vocabulary from train only
    batch = pipe.transform(["Great movie!", ""])             # Batch: ids (2, T), lengths (2,)
    pipe.save("pipeline.json"); TextPipeline.load("pipeline.json")  # identical output

Per text: ``cleaner`` (str -> str) -> ``tokenizer`` (-> list[str]) -> word n-grams ->
``Vocab`` ids (n-grams hashed into ``ngram_buckets`` extra ids when asked) -> padding.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from . import __version__
from .analyzer import Analyzer, ChunkResult, map_chunks, merge_counts, resolve_num_proc, to_global_ids
from .cleaning import TextCleaner, UnregisteredName
from .fileio import atomic_write, check_version, json_kind, read_versioned_json
from .padding import Batch, _check_options, pad_blocks
from .tokenization import Tokenizer, get_tokenizer, tokenizer_name, word_ngrams
from .vocabulary import Vocab, hash_ngrams

FORMAT = "textkit.TextPipeline"
FORMAT_VERSION = 1


def check_texts(texts: Any, name: str = "texts") -> list[str]:
    """``texts`` as a list of ``str``, or an error naming the first bad element."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, got a single {type(texts).__name__}; "
                        f"wrap one text in a list: [text]")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}") from None
    for i, text in enumerate(texts):
        if type(text) is not str and not isinstance(text, str):
            raise TypeError(f"{name}[{i}] must be a str, got {_describe(text)}")
    return texts


def _describe(value: Any) -> str:
    if value is None:
        return "None (a missing value: drop or fill it first)"
    if isinstance(value, float) and math.isnan(value):
        return "NaN (a missing value: drop or fill it first)"
    if isinstance(value, (bytes, bytearray)):
        return f"{type(value).__name__} {bytes(value[:20])!r}... (decode it first, e.g. value.decode('utf-8'))"
    return f"{type(value).__name__} {value!r:.40}"


class TextPipeline:
    """Clean, tokenize, index and pad text; see the module doc.

    Options (keyword-only):
        cleaner: a ``TextCleaner``, its config dict, ``None`` for the default cleaner,
            or ``False`` for no cleaning (text already clean, e.g. pre-tokenized corpora).
        tokenizer: a name from ``textkit.tokenization.TOKENIZERS`` or a callable.
        lang: language for the ``spacy`` tokenizer (``spacy.blank(lang)``).
        ngram_range: ``(min_n, max_n)`` word n-grams, appended after the unigrams.
        ngram_buckets: if > 0, n-grams with n >= 2 are hashed into this many ids after the
            vocabulary (fastText's trick) instead of entering the vocabulary.
        min_freq, max_vocab_size: vocabulary limits (``max_vocab_size`` counts PAD and UNK).
        max_length: cut rows to this many ids (``None``: no limit); ``truncation`` is
            ``"post"`` (keep the start) or ``"pre"`` (keep the end).
        min_length: pad every batch to at least this width (a CNN's largest kernel).
        num_proc: processes for ``fit``/``transform`` on inputs over 1M characters;
            ``None`` (default) uses every available core. Results equal one process's.
    """

    def __init__(
        self,
        *,
        cleaner: TextCleaner | dict | None | bool = None,
        tokenizer: str | Tokenizer = "regex",
        lang: str = "en",
        ngram_range: tuple[int, int] = (1, 1),
        ngram_buckets: int = 0,
        min_freq: int = 1,
        max_vocab_size: int | None = None,
        max_length: int | None = None,
        min_length: int = 1,
        truncation: str = "post",
        num_proc: int | None = None,
    ) -> None:
        if cleaner is None or cleaner is True:
            cleaner = TextCleaner()
        elif isinstance(cleaner, dict):
            cleaner = TextCleaner.from_config(cleaner)
        elif cleaner is not False and not isinstance(cleaner, TextCleaner):
            raise TypeError(f"cleaner must be a TextCleaner, a config dict, None or False, got {_describe(cleaner)}")
        self.cleaner: TextCleaner | None = cleaner or None
        placeholders = self.cleaner.replacement_tokens if self.cleaner else ()
        self.tokenizer: Tokenizer = get_tokenizer(tokenizer, lang=lang, placeholders=placeholders)
        self.lang = lang
        word_ngrams([], ngram_range)  # validates the range
        self.ngram_range = tuple(ngram_range)
        if not isinstance(ngram_buckets, int) or ngram_buckets < 0:
            raise ValueError(f"ngram_buckets must be an int >= 0, got {ngram_buckets!r}")
        self.ngram_buckets = ngram_buckets
        if not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
        self.min_freq = min_freq
        if max_vocab_size is not None and (not isinstance(max_vocab_size, int) or max_vocab_size < 2):
            raise ValueError(f"max_vocab_size must be None or an int >= 2 (PAD and UNK count), "
                             f"got {max_vocab_size!r}")
        self.max_vocab_size = max_vocab_size
        _check_options(max_length, min_length, truncation)
        self.max_length = max_length
        self.min_length = min_length
        self.truncation = truncation
        resolve_num_proc(num_proc)  # validates
        self.num_proc = num_proc
        self.analyzer = Analyzer(self.cleaner, self.tokenizer, self.ngram_range)
        self.vocab: Vocab | None = None

    # -- the text side -------------------------------------------------------------------
    def analyze(self, text: str) -> list[str]:
        """One text -> its tokens (n-grams included): stages 1 and 2, for debugging."""
        return self.analyzer(text)

    def _final_ids(self, tokens: list[str]) -> np.ndarray:
        """Tokens -> final ids ``(len(tokens),) int64``: vocabulary ids, and a hash bucket for
        each n-gram (a token with a space) when hashing."""
        ids = np.array(self.vocab.encode(tokens), dtype=np.int64)
        if self.ngram_buckets:
            grams = [i for i, tok in enumerate(tokens) if " " in tok]
            ids[grams] = hash_ngrams([tokens[i] for i in grams], self.ngram_buckets, len(self.vocab))
        return ids

    # -- fit / transform -------------------------------------------------------------------
    def fit(self, texts: Iterable[str]) -> "TextPipeline":
        """Learn the vocabulary from ``texts`` (training texts only: no dev/test leakage)."""
        self._fit_chunks(self._analyze_all(check_texts(texts), for_fit=True))
        return self

    def _fit_chunks(self, chunks: list[ChunkResult]) -> list[np.ndarray]:
        """Learn the vocabulary from the chunks' counts; return each chunk's table of final ids
        (local id -> id), so ``fit_transform`` indexes what it counted without looking up again."""
        tokens, totals, positions = merge_counts(chunks)
        counts = dict(zip(tokens, totals.tolist()))
        if self.ngram_buckets:  # hashed n-grams never enter the vocabulary
            counts = {tok: n for tok, n in counts.items() if " " not in tok}
        self.vocab = Vocab.from_counts(counts, min_freq=self.min_freq, max_size=self.max_vocab_size)
        final = self._final_ids(tokens)
        return [final[where] for where in positions]

    def transform(self, texts: Iterable[str], labels: Sequence[int] | None = None) -> Batch:
        """Texts -> ``Batch(ids (B, T) int64, lengths (B,) int64, labels)``.

        A text that cleans to nothing gets ``lengths == 0`` and a row of PAD ids.
        """
        texts = check_texts(texts)
        self._fitted_vocab()
        return self._batch(self._analyze_all(texts), labels, len(texts))

    def fit_transform(self, texts: Iterable[str], labels: Sequence[int] | None = None) -> Batch:
        """``fit`` then ``transform`` on the same texts, reading each text once."""
        texts = check_texts(texts)
        if labels is not None and len(labels) != len(texts):  # before fitting: fail without side effects
            raise ValueError(f"labels has {len(labels)} items but texts has {len(texts)}")
        chunks = self._analyze_all(texts, for_fit=True)
        return self._batch(chunks, labels, len(texts), self._fit_chunks(chunks))

    __call__ = transform

    def encode(self, texts: Iterable[str]) -> list[list[int]]:
        """Texts -> unpadded id lists (uncut: ``max_length`` applies when padding)."""
        texts = check_texts(texts)
        self._fitted_vocab()
        return self._rows(self._analyze_all(texts))

    def fit_encode(self, texts: Iterable[str]) -> list[list[int]]:
        """``fit`` then ``encode`` on the same texts, reading each text once."""
        chunks = self._analyze_all(check_texts(texts), for_fit=True)
        return self._rows(chunks, self._fit_chunks(chunks))

    def _rows(self, chunks: list[ChunkResult], tables: list[np.ndarray] | None = None) -> list[list[int]]:
        flat, lengths = self._ragged(chunks, tables)
        return [row.tolist() for row in np.split(flat, np.cumsum(lengths)[:-1])] if len(lengths) else []

    def _analyze_all(self, texts: list[str], for_fit: bool = False) -> list[ChunkResult]:
        if for_fit and not texts:
            raise ValueError("fit() needs at least one text, got an empty list")
        # With a fitted vocabulary and no hashing, workers index directly; otherwise they
        # return chunk-local ids that _final_flats maps once per distinct token.
        lookup = None if for_fit or self.ngram_buckets else self.vocab.lookup
        return list(map_chunks(self.analyzer, texts, resolve_num_proc(self.num_proc), lookup))

    def _ragged(self, chunks: list[ChunkResult], tables: list[np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """All rows' final ids back to back, and each row's length."""
        if not chunks:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        flat = np.concatenate(list(self._final_flats(chunks, tables)))
        return flat, np.concatenate([c.lengths for c in chunks])

    def _final_flats(self, chunks: list[ChunkResult], tables: list[np.ndarray] | None = None
                     ) -> Iterator[np.ndarray]:
        """Each chunk's final ids, made as asked for (``tables``: each chunk's final ids, from
        fitting on these chunks)."""
        if tables is None:
            return (to_global_ids(c, self._final_ids) for c in chunks)
        return (table[c.flat] for c, table in zip(chunks, tables))

    def padded(self, texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Texts -> ``(ids (B, T) int64, lengths (B,) int64)`` as NumPy arrays: ``transform``
        without torch (what the exported ONNX predictor feeds ONNX Runtime)."""
        texts = check_texts(texts)
        self._fitted_vocab()
        return self._padded(self._analyze_all(texts))

    def _padded(self, chunks: list[ChunkResult], tables: list[np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        # chunk by chunk: no concatenation of all the ids, and every temporary one chunk's size
        return pad_blocks([c.lengths for c in chunks], self._final_flats(chunks, tables), max_length=self.max_length,
                          min_length=self.min_length, truncation=self.truncation)

    def _batch(self, chunks: list[ChunkResult], labels: Sequence[int] | None, n_texts: int,
               tables: list[np.ndarray] | None = None) -> Batch:
        import torch  # here, not at import: the text side (and padded) runs without torch

        if labels is not None and len(labels) != n_texts:
            raise ValueError(f"labels has {len(labels)} items but texts has {n_texts}")
        ids, lengths = self._padded(chunks, tables)
        label_tensor = None if labels is None else torch.as_tensor(np.asarray(labels))
        return Batch(torch.from_numpy(ids), torch.from_numpy(lengths), label_tensor)

    def _fitted_vocab(self) -> Vocab:
        if self.vocab is None:
            raise RuntimeError("this TextPipeline is not fitted yet: call .fit(train_texts) first, "
                               "or TextPipeline.load(path)")
        return self.vocab

    # -- sizes -----------------------------------------------------------------------------
    @property
    def num_embeddings(self) -> int:
        """Rows an embedding table needs: the vocabulary plus any n-gram hash buckets."""
        return len(self._fitted_vocab()) + self.ngram_buckets

    # -- one JSON file -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        name = tokenizer_name(self.tokenizer)
        if name is None:
            raise ValueError(f"cannot save a TextPipeline with a custom tokenizer callable "
                             f"({getattr(self.tokenizer, '__name__', self.tokenizer)!r}): JSON cannot hold it; "
                             f"give it a name with textkit.register_tokenizer(name, fn) (before building the "
                             f"pipeline, and before loading it elsewhere)")
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "textkit_version": __version__,
            "cleaner": None if self.cleaner is None else {"type": "TextCleaner", "config": self.cleaner.get_config()},
            "tokenizer": {"type": name, "lang": self.lang},
            "ngrams": {"range": list(self.ngram_range), "buckets": self.ngram_buckets},
            "vocab": None if self.vocab is None else self.vocab.to_dict(),
            "vocab_options": {"min_freq": self.min_freq, "max_size": self.max_vocab_size},
            "padding": {"max_length": self.max_length, "min_length": self.min_length, "truncation": self.truncation},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "pipeline dict") -> "TextPipeline":
        check_version(data, source, name="pipeline", format=FORMAT, version=FORMAT_VERSION,
                      textkit_version=__version__)
        for key in ("cleaner", "tokenizer", "ngrams", "vocab_options", "padding", "vocab"):
            value = data.get(key, {})  # a missing key is reported below
            if not isinstance(value, dict) and not (value is None and key in ("cleaner", "vocab")):
                raise ValueError(f"{source}: {key!r} must be an object, got {json_kind(value)}; the file is damaged")
        try:
            cleaner = data["cleaner"]
            pipe = cls(
                cleaner=False if cleaner is None else TextCleaner.from_config(cleaner["config"]),
                tokenizer=data["tokenizer"]["type"],
                lang=data["tokenizer"]["lang"],
                ngram_range=tuple(data["ngrams"]["range"]),
                ngram_buckets=data["ngrams"]["buckets"],
                min_freq=data["vocab_options"]["min_freq"],
                max_vocab_size=data["vocab_options"]["max_size"],
                **data["padding"],
            )
            pipe.vocab = None if data["vocab"] is None else Vocab.from_dict(data["vocab"])
        except KeyError as exc:
            raise ValueError(f"{source} is missing the key {exc.args[0]!r}; the file is damaged") from None
        except UnregisteredName as exc:  # not damage: this process lacks a registration
            raise UnregisteredName(f"{source}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source} is damaged: {exc}") from None
        return pipe

    def save(self, path: str | os.PathLike) -> None:
        """Write the whole pipeline (cleaner, tokenizer, vocabulary, padding) as one JSON file.

        Written to a temporary file first and renamed, so a crash never leaves half a file.
        """
        # ensure_ascii: \u escapes round-trip every str, lone surrogates from raw input included
        payload = json.dumps(self.to_dict(), ensure_ascii=True, indent=1)
        atomic_write(path, lambda f: f.write(payload), mode="w", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TextPipeline":
        data, source = read_versioned_json(path, name="pipeline", format=FORMAT, version=FORMAT_VERSION)
        return cls.from_dict(data, source=source)

    def __repr__(self) -> str:
        vocab = "unfitted" if self.vocab is None else f"vocab={len(self.vocab)}"
        return (f"TextPipeline(tokenizer={tokenizer_name(self.tokenizer) or 'custom'!r}, {vocab}, "
                f"ngram_range={self.ngram_range}, max_length={self.max_length})")
