"""Stage 2: clean text -> tokens (``str -> list[str]``).

``get_tokenizer(name)`` returns a plain callable:

==================  ======================================================================
``regex``           default, fastest: placeholders like ``<url>``, words (with inner
                    apostrophes/hyphens: ``don't``, ``state-of-the-art``), single symbols
``words``           scikit-learn's vectorizers' tokens: runs of 2+ word characters
                    (``don't`` -> ``don``; symbols and single characters dropped), and
                    placeholders (20 Newsgroups' bow recipe: chosen on its by-date replay)
``whitespace``      ``str.split()``
``char``            every character except whitespace
``spacy``           spaCy's rule-based tokenizer from ``spacy.blank(lang)`` (no model needed)
``nltk-treebank``   NLTK's ``TreebankWordTokenizer`` (``don't`` -> ``do n't``)
``nltk-tweet``      NLTK's ``TweetTokenizer`` (keeps emoticons, hashtags, @mentions)
==================  ======================================================================

Any callable ``str -> list[str]`` is accepted too; to save a pipeline that uses one, give it a
name first with ``register_tokenizer(name, fn)`` (and run that registration, e.g. by importing
the module that holds it, before loading the pipeline elsewhere). Every tokenizer keeps the
cleaner's placeholders (``<url>``, ``<user>``, ...) whole; a registered one is run between them.
spaCy and NLTK are imported on first use.
"""
from __future__ import annotations

import difflib
import re
from typing import Callable, Iterable, Sequence

from .cleaning import UnregisteredName

Tokenizer = Callable[[str], list]

# A placeholder emitted by the cleaner: "<" + a word + ">" ("<url>", "<URL>").
_PLACEHOLDER = r"<[a-zA-Z][a-zA-Z0-9_]*>"
_REGEX_TOKEN = re.compile(_PLACEHOLDER + r"|\w+(?:['’\-]\w+)*|[^\w\s]")
# The same tokens for ASCII text, ~20% faster (ASCII classes are table lookups). re.ASCII's \s
# lacks \x1c-\x1f, which str.isspace and Unicode \s count as whitespace, so they are added.
_ASCII_REGEX_TOKEN = re.compile(_PLACEHOLDER + r"|\w+(?:['’\-]\w+)*|[^\w\s\x1c-\x1f]", re.ASCII)
_PLACEHOLDER_SPLIT = re.compile(f"({_PLACEHOLDER})")


def regex_tokenize(text: str) -> list[str]:
    """Placeholders, words with inner ``'``/``-``, and single non-space symbols."""
    return (_ASCII_REGEX_TOKEN if text.isascii() else _REGEX_TOKEN).findall(text)


# scikit-learn's default token_pattern, r"(?u)\b\w\w+\b", plus the placeholders
_WORD_TOKEN = re.compile(_PLACEHOLDER + r"|\b\w\w+\b")
_ASCII_WORD_TOKEN = re.compile(_PLACEHOLDER + r"|\b\w\w+\b", re.ASCII)


def words_tokenize(text: str) -> list[str]:
    """Placeholders and runs of 2+ word characters, as ``CountVectorizer`` tokenizes."""
    return (_ASCII_WORD_TOKEN if text.isascii() else _WORD_TOKEN).findall(text)


def whitespace_tokenize(text: str) -> list[str]:
    return text.split()


def _chars(text: str) -> list[str]:
    return [c for c in text if not c.isspace()]


def char_tokenize(text: str) -> list[str]:
    """One token per non-whitespace character (placeholders like ``<url>`` stay whole)."""
    return _keep_placeholders(_chars, text)


def _keep_placeholders(tokenize: Tokenizer, text: str) -> list[str]:
    """Run ``tokenize`` between placeholders so ``<url>`` is never split into ``<``, ``url``, ``>``."""
    if "<" not in text:
        return tokenize(text)
    tokens: list[str] = []
    for i, piece in enumerate(_PLACEHOLDER_SPLIT.split(text)):
        if i % 2:  # odd pieces are the captured placeholders
            tokens.append(piece)
        elif piece:
            tokens.extend(tokenize(piece))
    return tokens


class NLTKTokenizer:
    """A data-free NLTK tokenizer (no punkt download needed), placeholder-safe and picklable."""

    KINDS = {"nltk-treebank": "TreebankWordTokenizer", "nltk-tweet": "TweetTokenizer"}

    def __init__(self, name: str) -> None:
        self.name = name
        self._tokenizer = None

    def _load(self):
        try:
            import nltk.tokenize
        except ImportError as exc:  # pragma: no cover - nltk is a dependency
            raise ImportError(f"tokenizer {self.name!r} needs NLTK: pip install nltk") from exc
        return getattr(nltk.tokenize, self.KINDS[self.name])()

    def __call__(self, text: str) -> list[str]:
        if self._tokenizer is None:
            self._tokenizer = self._load()
        return _keep_placeholders(self._tokenizer.tokenize, text)

    def __getstate__(self) -> dict:  # workers rebuild the NLTK object themselves
        return {"name": self.name, "_tokenizer": None}


class SpacyTokenizer:
    """spaCy's rule-based tokenizer from ``spacy.blank(lang)``; ``pipe`` tokenizes in batches.

    The cleaner's placeholders are registered as special cases, so spaCy keeps them whole.
    """

    def __init__(self, lang: str = "en", placeholders: Sequence[str] = ()) -> None:
        self.lang = lang
        self.placeholders = tuple(placeholders)
        self._tokenizer = None

    def _load(self):
        try:
            import spacy
        except ImportError as exc:  # pragma: no cover - spacy is a dependency
            raise ImportError("tokenizer 'spacy' needs spaCy: pip install spacy") from exc
        try:
            tokenizer = spacy.blank(self.lang).tokenizer
        except Exception as exc:  # spaCy raises its own ImportError/KeyError subclasses
            raise ValueError(f"spaCy has no language {self.lang!r}: {exc}") from exc
        for token in self.placeholders:
            tokenizer.add_special_case(token, [{"ORTH": token}])
        return tokenizer

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = self._load()
        return self._tokenizer

    def __call__(self, text: str) -> list[str]:
        return [t.text for t in self.tokenizer(text) if not t.is_space]

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> list[list[str]]:
        return [[t.text for t in doc if not t.is_space] for doc in self.tokenizer.pipe(texts, batch_size=batch_size)]

    def __getstate__(self) -> dict:  # spaCy objects are rebuilt in each worker, not pickled
        return {"lang": self.lang, "placeholders": self.placeholders, "_tokenizer": None}


_SIMPLE = {"regex": regex_tokenize, "words": words_tokenize, "whitespace": whitespace_tokenize,
           "char": char_tokenize}
TOKENIZERS = (*_SIMPLE, "spacy", *NLTKTokenizer.KINDS)
# Tokenizers that split on exactly the characters ``str.isspace`` calls whitespace (``re``'s
# ``\s`` is the same set) and never return them, so collapsing whitespace first cannot change
# their tokens. Not NLTK: its patterns see only some whitespace characters as spaces
# (TweetTokenizer returns "\x1f" as a token; Treebank turns '"' after "\x1c" into '' not ``).
# Not spaCy either: no difference is known, but its rules are spaCy's to change.
SPLITS_ON_WHITESPACE = frozenset({"regex", "words", "whitespace", "char"})


_REGISTERED: dict[str, Tokenizer] = {}  # register_tokenizer's: name -> the user's callable


class RegisteredTokenizer:
    """A user's tokenizer, by the name it was registered under; run between placeholders."""

    def __init__(self, name: str, fn: Tokenizer) -> None:
        self.name, self.fn = name, fn

    def __call__(self, text: str) -> list[str]:
        return _keep_placeholders(self.fn, text)

    def __reduce__(self):  # worker processes look the name up again (their module registers it on import)
        return get_tokenizer, (self.name,)


def register_tokenizer(name: str, tokenizer: Tokenizer) -> None:
    """Make ``tokenizer`` (``str -> list[str]``) a named tokenizer, so that a ``TextPipeline``
    using it (``tokenizer=name``, or the callable itself) saves its name and loads again in any
    process that has run the same registration. Registering a name twice with another callable
    is an error (a saved pipeline would change meaning); the same callable again is a no-op."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][\w.-]{0,63}", name):
        raise ValueError(f"a tokenizer name is a letter then up to 63 letters, digits, '_', '.' or '-', got {name!r}")
    if name in TOKENIZERS:
        raise ValueError(f"{name!r} is a built-in tokenizer; register yours under another name")
    if not callable(tokenizer):
        raise TypeError(f"register_tokenizer({name!r}, ...) takes a callable str -> list[str], got "
                        f"{type(tokenizer).__name__}")
    if _REGISTERED.get(name, tokenizer) is not tokenizer:
        raise ValueError(f"tokenizer {name!r} is already registered as {_REGISTERED[name]!r}")
    _REGISTERED[name] = tokenizer


def get_tokenizer(name: str | Tokenizer = "regex", *, lang: str = "en",
                  placeholders: Sequence[str] = ("<url>", "<email>", "<user>", "<hashtag>", "<number>")) -> Tokenizer:
    """Tokenizer by name (see the module doc), or ``name`` itself if it is a callable."""
    if callable(name):
        registered = next((n for n, fn in _REGISTERED.items() if fn is name), None)
        return name if registered is None else RegisteredTokenizer(registered, name)
    if name in _SIMPLE:
        return _SIMPLE[name]
    if name == "spacy":
        return SpacyTokenizer(lang, placeholders)
    if name in NLTKTokenizer.KINDS:
        return NLTKTokenizer(name)
    if name in _REGISTERED:
        return RegisteredTokenizer(name, _REGISTERED[name])
    close = difflib.get_close_matches(str(name), [*TOKENIZERS, *_REGISTERED], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UnregisteredName(f"unknown tokenizer {name!r}{hint}; choose one of {list(TOKENIZERS)}, pass a callable, or, "
                           f"for a tokenizer of your own, run textkit.register_tokenizer({name!r}, fn) first")


def tokenizer_name(tokenizer: Tokenizer) -> str | None:
    """The registered name of ``tokenizer``, or None for a user callable (not serializable)."""
    for name, fn in _SIMPLE.items():
        if tokenizer is fn:
            return name
    if isinstance(tokenizer, SpacyTokenizer):
        return "spacy"
    if isinstance(tokenizer, (NLTKTokenizer, RegisteredTokenizer)):
        return tokenizer.name
    return None


def _check_range(ngram_range) -> tuple[int, int]:
    # Not cached: a cache keyed by value would accept (1.0, 2) once (1, 2) had been seen.
    try:
        lo, hi = ngram_range
    except (TypeError, ValueError):
        lo = hi = None
    if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
        raise ValueError(f"ngram_range must be (min_n, max_n) with 1 <= min_n <= max_n, got {ngram_range!r}")
    return lo, hi


def word_ngrams(tokens: list[str], ngram_range: tuple[int, int] = (1, 1)) -> list[str]:
    """Unigrams first, then n-grams joined by a space: ``["a", "b", "c"], (1, 2)`` ->
    ``["a", "b", "c", "a b", "b c"]`` (fastText appends n-grams after words the same way)."""
    lo, hi = _check_range(ngram_range)
    out = list(tokens) if lo == 1 else []
    for n in range(max(lo, 2), hi + 1):
        out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return out
