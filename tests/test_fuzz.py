"""Property tests (hypothesis) for the text layer and the corpus readers.

Every test runs a fixed, bounded number of examples from a fixed seed (``derandomize``), so
the file takes seconds, a failure reproduces on every machine, and CI never turns red by
luck. Hypothesis shrinks a failure to a minimal example and prints it; paste that into the
module's own test file as a plain case. For a deeper local run:
``TEXTKIT_FUZZ_SCALE=50 python -m pytest tests/test_fuzz.py`` (50x the examples, new ones too).
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textkit import formats
from textkit.cleaning import HTML_ROUNDS, MAX_PASSES, TextCleaner
from textkit.formats import CorpusError, ReadOptions
from textkit.pipeline import TextPipeline
from textkit.tokenization import SPLITS_ON_WHITESPACE, TOKENIZERS, get_tokenizer
from textkit.vocabulary import PAD_ID, Vocab

SCALE = int(os.environ.get("TEXTKIT_FUZZ_SCALE", "1"))


def fuzz(examples: int):
    """``examples`` from a fixed seed; a larger SCALE draws more, from a seed of its own."""
    return settings(max_examples=examples * SCALE, derandomize=SCALE == 1, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- texts: anything, and the noise each cleaning step handles, glued together ------------------
PIECES = [
    # markup, entities, escaped and doubly escaped, and their pieces
    "<br />", "<b>", "</b>", "<p>", "<a href=x>", "<!--", "-->", "<", ">", "&", ";", "amp;", "lt;", "b>",
    "&amp;", "&lt;", "&gt;", "&Amp;", "&AMP", "&#39;", "&#x26;", "&nbsp;", "&lt;b&gt;", "&amp;amp;",
    # the cleaner's placeholders (and the vocabulary's), URLs, e-mails, mentions, hashtags, numbers
    "<user>", "<url>", "<email>", "<number>", "<hashtag>", "<pad>", "<USER>", "http://", "https://x.io/a?b=1",
    "www.", "wWw.", "wwww.", "x.org", "a@b.org", "@", "@bob", "#", "#tag", "42", "3.5", "1,000", "-", ":",
    # mojibake, quotes, accents, case, compatibility forms
    "'", "\u2019", "\u201c", "Ã©", "Ã¢â‚¬â„¢", "Â", "¢", "Á®", "\x96", "é", "e\u0301", "\u0301", "\u1e83", "\u0130",
    "\u01c5", "\ufb01", "\uff1c", "\uff1e", "\uff06", "\uff42", "\ud55c", "ẞ",
    # controls, zero-width marks, whitespace of every kind, emoji, lone surrogates
    "\u200b", "\u200d", "\ufeff", "\u00ad", "\x00", "\x1b", "\x1c", "\x1f", "\x85", "\u2028", "\xa0", "\u3000",
    "\t", "\n", "\r", " ", "  ", "\U0001F600", "\U0001F44D\U0001F3FD", "1\ufe0f\u20e3", "\ud800", "\udc00",
    # words: repeats, contractions, quotes for NLTK
    "a", "A", "o", "ooooo", "w", "Sooooo", "GOOD", "don't", "n't", '"', "...", "x", "1", ":)",
]
ANY_CHAR = st.characters() | st.characters(categories=["Cs"])  # lone surrogates too
# At most 20 pieces: markup nested or escaped deeper than HTML_ROUNDS * MAX_PASSES (24)
# levels is the documented exception to idempotence, and 20 pieces cannot build it.
MAX_PIECES = 20
assert MAX_PIECES < HTML_ROUNDS * MAX_PASSES
TEXTS = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.lists(st.sampled_from(PIECES), max_size=MAX_PIECES).map("".join),
    st.lists(st.sampled_from(PIECES) | st.text(ANY_CHAR, max_size=3), max_size=MAX_PIECES).map("".join),
)
# Whitespace of every kind between words, quotes and emoticons: where tokenizers differ on what
# a space is (NLTK's TweetTokenizer returned "\x1f" as a token, Treebank reads '"' after "\x1c"
# as a closing quote).
SPACES = [c for c in map(chr, range(0x3001)) if c.isspace()]
SPACED_TEXTS = st.lists(st.sampled_from([*SPACES, "a", "b", '"', "'", "n't", "<url>", ":)", "...", "-", "#x"]),
                        max_size=12).map("".join)
MODES = ["keep", "remove", "replace"]
CLEANER_OPTIONS = st.fixed_dictionaries({}, optional={
    "fix_unicode": st.booleans(), "normalize": st.sampled_from([None, "NFC", "NFKC", "NFD", "NFKD"]),
    "html": st.booleans(), "control": st.booleans(), "urls": st.sampled_from(MODES),
    "emails": st.sampled_from(MODES), "mentions": st.sampled_from(MODES),
    "hashtags": st.sampled_from([*MODES, "word"]), "emoji": st.sampled_from(["keep", "remove", "name"]),
    "numbers": st.sampled_from(MODES), "strip_accents": st.booleans(), "lowercase": st.booleans(),
    "max_repeats": st.sampled_from([0, 1, 2, 3, 5, 1000]), "whitespace": st.booleans(),
    "url_token": st.sampled_from(["<url>", "<LINK>", "<looool>"]),
})


# -- cleaning ---------------------------------------------------------------------------------------
@fuzz(400)
@given(text=TEXTS)
def test_default_cleaning_is_idempotent(text):
    cleaner = TextCleaner()
    once = cleaner(text)
    assert cleaner(once) == once
    assert once == " ".join(once.split())  # whitespace collapsed, ends stripped


@fuzz(400)
@given(options=CLEANER_OPTIONS, text=TEXTS)
def test_every_cleaner_is_idempotent_and_total(options, text):
    """Any options, any str (surrogates, controls, runs of repeats): a str comes out, and
    cleaning it again changes nothing."""
    cleaner = TextCleaner(**options)
    once = cleaner(text)
    assert isinstance(once, str)
    assert cleaner(once) == once


@fuzz(60)
@given(letter=st.sampled_from(["a", "\u00e9", "W", "1", "!"]), run=st.integers(0, 5000),
       max_repeats=st.sampled_from([1, 2, 4, 5, 1000]))
def test_repeats_within_the_limit(letter, run, max_repeats):
    out = TextCleaner(max_repeats=max_repeats, lowercase=False)(f"x {letter * run} y")
    cut = run if not letter.isalpha() else min(run, max_repeats)
    assert out == f"x {letter * cut} y".replace("  ", " ")


# -- analysis: one definition, tokenizer(cleaner(text)) -----------------------------------------------
@lru_cache(maxsize=None)
def pipeline(tokenizer: str) -> TextPipeline:
    return TextPipeline(tokenizer=tokenizer)


@pytest.mark.parametrize("tokenizer", TOKENIZERS)  # spaCy too: fast once loaded (~1 s, once)
@fuzz(60)
@given(texts=st.lists(SPACED_TEXTS | TEXTS, min_size=1, max_size=3))
def test_analysis_is_tokenizer_of_cleaner(tokenizer, texts):
    pipe = pipeline(tokenizer)
    expected = [pipe.tokenizer(pipe.cleaner(text)) for text in texts]
    assert pipe.analyzer.many(texts) == expected
    assert pipe.analyze(texts[0]) == expected[0]


@fuzz(200)
@given(name=st.sampled_from(sorted(SPLITS_ON_WHITESPACE)), text=TEXTS | SPACED_TEXTS)
def test_whitespace_splitting_tokenizers_ignore_how_whitespace_is_written(name, text):
    """What lets the analyzer skip the cleaner's whitespace step for these tokenizers."""
    tokenize = get_tokenizer(name)
    assert tokenize(text) == tokenize(" ".join(text.split()))


# -- the pipeline: transform, encode, padding ---------------------------------------------------------
FIT_TEXTS = ["Great movie, I loved it!", "Terrible plot <br /> sooo boring", "see https://x.io @bob #tag 42",
             "caf\u00e9 na\u00efve \U0001F600 don't", "a b c d e f g h", "&amp; <user> <url> x.org"]


@lru_cache(maxsize=None)
def fitted(max_length: int | None, truncation: str, ngrams: bool) -> TextPipeline:
    options = {"ngram_range": (1, 2), "ngram_buckets": 16} if ngrams else {}
    return TextPipeline(max_length=max_length, truncation=truncation, num_proc=1, **options).fit(FIT_TEXTS)


@fuzz(150)
@given(texts=st.lists(TEXTS, min_size=1, max_size=5), other=TEXTS,
       max_length=st.sampled_from([None, 1, 4, 12]), truncation=st.sampled_from(["post", "pre"]),
       ngrams=st.booleans())
def test_transform_matches_encode_and_padding_changes_no_real_id(texts, other, max_length, truncation, ngrams):
    pipe = fitted(max_length, truncation, ngrams)
    rows = pipe.encode(texts)
    assert rows == [pipe.encode([t])[0] for t in texts]  # each text alone: the same
    batch = pipe.transform(texts)
    assert batch.ids.dtype == batch.lengths.dtype == torch.int64
    for i, row in enumerate(rows):
        kept = row if max_length is None else row[:max_length] if truncation == "post" else row[-max_length:]
        n = int(batch.lengths[i])
        assert n == len(kept)
        assert batch.ids[i, :n].tolist() == kept
        assert (batch.ids[i, n:] == PAD_ID).all()
    # another row in the batch (longer, shorter, empty) pads more or less, and changes no real id
    wider = pipe.transform([*texts, other])
    for i, row in enumerate(rows):
        n = int(batch.lengths[i])
        assert int(wider.lengths[i]) == n and wider.ids[i, :n].tolist() == batch.ids[i, :n].tolist()


# -- the vocabulary's JSON ------------------------------------------------------------------------------
def _no_surrogate_pair(token: str) -> bool:
    return not any("\ud800" <= a <= "\udbff" and "\udc00" <= b <= "\udfff" for a, b in zip(token, token[1:]))


# Known issue, left to vocabulary.py: a token holding a high then a low surrogate (two code
# points: "\ud800\udc00") is written as two \u escapes, which json.loads joins into one
# character ("\U00010000"), so it comes back changed. Such tokens are left out here.
TOKENS = (st.text(ANY_CHAR, min_size=1, max_size=6).filter(_no_surrogate_pair)
          | st.sampled_from(["<pad>", "<unk>", "a", "a b"]))


@fuzz(150)
@given(rows=st.lists(st.lists(TOKENS, max_size=8), max_size=6), min_freq=st.integers(1, 3),
       max_size=st.none() | st.integers(2, 10))
def test_vocab_json_round_trip(rows, min_freq, max_size):
    vocab = Vocab.build(rows, min_freq=min_freq, max_size=max_size)
    assert Vocab.from_json(vocab.to_json()) == vocab
    # what TextPipeline.save writes: ASCII JSON, lone surrogates as \u escapes
    assert Vocab.from_dict(json.loads(json.dumps(vocab.to_dict(), ensure_ascii=True))) == vocab
    ids = list(range(len(vocab)))
    assert vocab.encode(vocab.decode(ids)) == ids
    tokens = [t for row in rows for t in row]
    assert vocab.decode(vocab.encode(tokens)) == [t if t in vocab else "<unk>" for t in tokens]


# -- the readers ------------------------------------------------------------------------------------------
LINE_FORMATS = ["label-text", "fasttext", "jsonl"]
SUFFIX = {"label-text": ".txt", "fasttext": ".txt", "jsonl": ".jsonl", "csv": ".csv", "tsv": ".tsv"}
# Record text in a file: any character a UTF-8 file holds (so no lone surrogates), line breaks
# aside for the line formats; U+0085, U+2028, \x0b, \x0c, \x1c-\x1e are text there, not breaks.
FILE_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
LINE_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=30)
LABEL = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\ufeff"), min_size=1, max_size=6)
WORD_LABEL = LABEL.filter(lambda s: not any(c.isspace() for c in s))  # label-text, fastText: up to a space
ENDS = ["\n", "\r\n", "\r"]


def read(fmt: str, data: bytes) -> list[tuple[str, str]]:
    """``(text, label)`` records of ``data`` read as ``fmt``, or CorpusError; nothing else may
    escape."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"corpus{SUFFIX[fmt]}"
        path.write_bytes(data)
        found = formats.read(path, fmt, ReadOptions())
    return [(text, label) for rows in found for text, label in zip(rows.texts, rows.labels)]


def line_of(fmt: str, label: str, text: str, ascii_json: bool) -> str:
    if fmt == "jsonl":
        return json.dumps({"label": label, "text": text}, ensure_ascii=ascii_json)
    return f"{'__label__' if fmt == 'fasttext' else ''}{label} {text}"


def expected_record(fmt: str, label: str, text: str) -> tuple[str, str] | None:
    """What reading the record must give, or None where CorpusError is the right answer."""
    if fmt == "jsonl":
        return (text, label.strip()) if label.strip() else None
    if fmt == "fasttext" and any(w.startswith("__label__") for w in text.split()):
        return None  # a second label
    return text.lstrip(), label  # an empty text is a record, as an empty csv field is


@fuzz(150)
@given(fmt=st.sampled_from(LINE_FORMATS), records=st.lists(st.tuples(WORD_LABEL, LINE_TEXT), min_size=1, max_size=6),
       end=st.sampled_from(ENDS), last_end=st.booleans(), ascii_json=st.booleans())
def test_line_formats_keep_every_record(fmt, records, end, last_end, ascii_json):
    """One line ending throughout: every record comes back exactly, or CorpusError names a
    record that is not one; never fewer, more or merged records."""
    data = end.join(line_of(fmt, label, text, ascii_json) for label, text in records) + (end if last_end else "")
    expected = [expected_record(fmt, label, text) for label, text in records]
    if None in expected:
        with pytest.raises(CorpusError):
            read(fmt, data.encode("utf-8"))
    else:
        assert read(fmt, data.encode("utf-8")) == expected


@fuzz(150)
@given(fmt=st.sampled_from(LINE_FORMATS),
       records=st.lists(st.tuples(WORD_LABEL, LINE_TEXT, st.sampled_from(ENDS)), min_size=2, max_size=6))
def test_line_formats_never_merge_records_across_mixed_line_endings(fmt, records):
    """A file mixing \\n, \\r\\n and bare \\r (once merged 40 records into 21): the records
    exactly, or CorpusError."""
    data = "".join(line_of(fmt, label, text, True) + end for label, text, end in records)
    try:
        got = read(fmt, data.encode("utf-8"))
    except CorpusError:
        return
    assert got == [expected_record(fmt, label, text) for label, text, _ in records]


@fuzz(150)
@given(records=st.lists(st.tuples(LABEL, FILE_TEXT, st.sampled_from(ENDS)), min_size=1, max_size=6))
def test_csv_keeps_every_record(records):
    """csv quotes what it must (commas, quotes, line breaks of any kind inside a text)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")  # quotes a field holding \r or \n; a
    writer.writerow(["label", "text"])                 # writer ending rows with "\r" alone would not
    for label, text, end in records:
        writer.writerow([label, text])
        out.seek(out.tell() - 2)  # this row ends as `end` says
        out.write(end)
        out.truncate()
    data = out.getvalue().encode("utf-8")
    expected = [(text, label.strip()) for label, text, _ in records]
    if not all(label.strip() for label, _, _ in records):
        with pytest.raises(CorpusError, match="empty label"):
            read("csv", data)
    else:
        assert read("csv", data) == expected


BYTE_PIECES = [b"\n", b"\r", b"\r\n", b" ", b"\t", b",", b'"', b"'", b"{", b"}", b"[", b"]", b":", b"\\",
               b'"label"', b'"text"', b"label,text", b"label\ttext", b"__label__", b"__label__a", b"a", b"1",
               b"null", b"\x00", b"\xff", b"\xef\xbb\xbf", b"\xc3\xa9", b"\xe2\x80\xa8", b"\xc2\x85", b"\xed\xa0\x80"]


@fuzz(300)
@given(fmt=st.sampled_from(["label-text", "fasttext", "csv", "tsv", "jsonl"]),
       data=st.binary(max_size=200) | st.lists(st.sampled_from(BYTE_PIECES), max_size=30).map(b"".join))
def test_readers_raise_nothing_but_corpus_error(fmt, data):
    try:
        records = read(fmt, data)
    except CorpusError as e:
        assert "\n" not in str(e)  # one line
        return
    assert records and all(isinstance(t, str) and isinstance(label, str) and label for t, label in records)
