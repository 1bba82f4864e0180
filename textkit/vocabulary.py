"""Stage 3: tokens -> integer ids.

Ids are fixed by convention, never by accident:

* ``PAD_ID = 0`` (``"<pad>"``) fills the short rows of a batch; every model uses it as
  ``padding_idx`` and masks it out.
* ``UNK_ID = 1`` (``"<unk>"``) stands for every token the vocabulary does not know.
* Optional extra specials come next, then tokens by descending frequency, ties broken by
  the token's string order, so the same training text always yields the same ids.

The vocabulary is fitted on training text only; fitting it on dev or test text leaks
their words into the model.
"""
from __future__ import annotations

import json
import zlib
from collections import Counter
from itertools import chain, repeat
from typing import Iterable, Iterator, Mapping, Sequence

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
PAD_ID = 0
UNK_ID = 1


class Vocab:
    """A fixed, ordered token <-> id table with ``PAD_ID = 0`` and ``UNK_ID = 1``.

    >>> v = Vocab.build([["a", "b", "a"], ["c"]])
    >>> v.encode(["a", "zzz"])
    [2, 1]
    >>> v.decode([2, 3, 0])
    ['a', 'b', '<pad>']
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        if tokens[:2] != [PAD_TOKEN, UNK_TOKEN]:
            raise ValueError(
                f"Vocab tokens must start with {PAD_TOKEN!r}, {UNK_TOKEN!r} (PAD_ID=0, UNK_ID=1), "
                f"got {tokens[:2]!r}"
            )
        # checked at C speed (a fitted vocabulary has ~100k tokens); the loop names the culprit
        if set(map(type, tokens)) != {str}:
            _check_tokens(tokens)  # str subclasses pass
        self._itos: list[str] = tokens
        self._stoi: dict[str, int] = dict(zip(tokens, range(len(tokens))))
        if "" in self._stoi:
            _check_tokens(tokens)
        if len(self._stoi) != len(tokens):
            dupes = sorted(t for t, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"Vocab tokens must be unique; repeated: {dupes[:5]!r}")

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (),
    ) -> "Vocab":
        """Count tokens and keep those seen at least ``min_freq`` times.

        ``max_size`` caps the *whole* table, PAD, UNK and ``specials`` included, so an
        embedding built with ``len(vocab)`` rows has exactly ``max_size`` rows.
        """
        return cls.from_counts(Counter(chain.from_iterable(_token_rows(token_lists))),
                               min_freq=min_freq, max_size=max_size, specials=specials)

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (),
    ) -> "Vocab":
        """Like :meth:`build`, from token counts already made (e.g. merged from workers)."""
        if not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
        head = [PAD_TOKEN, UNK_TOKEN, *[s for s in specials if s not in (PAD_TOKEN, UNK_TOKEN)]]
        if max_size is not None and (not isinstance(max_size, int) or max_size < len(head)):
            raise ValueError(
                f"max_size must be an int >= {len(head)} (PAD, UNK and {len(head) - 2} specials), "
                f"got {max_size!r}"
            )
        taken = set(head)
        if taken.isdisjoint(counts) and min(counts.values(), default=min_freq) >= min_freq:
            kept = sorted(counts)  # the usual case (nothing to drop): sorted() alone, at C speed
        else:
            kept = sorted(tok for tok, n in counts.items() if n >= min_freq and tok not in taken)
        # most frequent first, ties alphabetical: a stable sort by count (reverse keeps stability)
        # after the alphabetical one, with C-level keys (~2x faster than a (-count, token) key)
        kept.sort(key=counts.__getitem__, reverse=True)
        if max_size is not None:
            kept = kept[: max_size - len(head)]
        return cls(head + kept)

    # -- lookups ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __iter__(self) -> Iterator[str]:
        return iter(self._itos)

    def __getitem__(self, token: str) -> int:
        return self._stoi.get(token, UNK_ID)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self._itos == other._itos

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, first={self._itos[2:7]!r})"

    @property
    def itos(self) -> list[str]:
        """Id -> token list (a copy)."""
        return list(self._itos)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Tokens -> ids; unknown tokens become ``UNK_ID``."""
        if isinstance(tokens, str):  # would silently encode its characters
            raise TypeError(f"Vocab.encode expects a list of tokens, got a str {tokens[:30]!r}; tokenize it first")
        return list(self.lookup(tokens))

    def lookup(self, tokens: Iterable[str]) -> Iterator[int]:
        """``encode``, lazily: ids as an iterator, for a stream of tokens (``np.fromiter`` reads
        it without a list in between)."""
        # map(dict.get, ..., repeat(UNK)) is the fastest pure-Python lookup loop.
        return map(self._stoi.get, tokens, repeat(UNK_ID))

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids -> tokens. Raises ``IndexError`` naming the id if one is out of range."""
        out = []
        size = len(self._itos)
        for i in ids:
            i = int(i)
            if not 0 <= i < size:
                raise IndexError(f"id {i} is out of range for a vocabulary of size {size}")
            out.append(self._itos[i])
        return out

    # -- serialization ---------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"type": "Vocab", "tokens": list(self._itos)}

    @classmethod
    def from_dict(cls, data: dict) -> "Vocab":
        if not isinstance(data, dict) or data.get("type") != "Vocab" or not isinstance(data.get("tokens"), list):
            raise ValueError(f"expected a Vocab dict {{'type': 'Vocab', 'tokens': [...]}}, got {str(data)[:80]!r}")
        return cls(data["tokens"])

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Vocab":
        from .fileio import loads_json  # textkit's JSON nesting limit: a hostile file is one error

        return cls.from_dict(loads_json(text, "vocabulary JSON"))


def _check_tokens(tokens: list) -> None:
    for i, tok in enumerate(tokens):
        if not isinstance(tok, str) or not tok:
            raise ValueError(f"Vocab tokens[{i}] must be a non-empty str, got {tok!r}")


def _token_rows(token_lists: Iterable[Sequence[str]]) -> Iterator[Sequence[str]]:
    """``token_lists`` row by row; a ``str`` row would silently count characters, so it is refused."""
    if isinstance(token_lists, str):
        raise TypeError(f"Vocab.build expects a list of token lists, got a str {token_lists[:30]!r}")
    for i, row in enumerate(token_lists):
        if isinstance(row, str):
            raise TypeError(f"Vocab.build expects a list of token lists, but token_lists[{i}] is a str "
                            f"{row[:30]!r}; tokenize each text first")
        yield row


def hash_ngrams(ngrams: Iterable[str], buckets: int, offset: int) -> list[int]:
    """fastText-style hashing trick: each n-gram -> ``offset + crc32(ngram) % buckets``.

    crc32 is stable across processes and Python versions (``hash()`` is salted per process),
    so saved pipelines give the same ids everywhere.
    """
    return [offset + zlib.crc32(g.encode("utf-8")) % buckets for g in ngrams]
