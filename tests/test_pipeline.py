"""Stages 1-4 composed: fit/transform shapes, no test-set leakage, n-grams and hashing,
save/load round trips and damaged files, multiprocess equality, bad input."""
from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
import torch

import textkit
from textkit import analyzer
from textkit.analyzer import map_chunks
from textkit.cleaning import TextCleaner
from textkit.pipeline import TextPipeline
from textkit.tokenization import TOKENIZERS
from textkit.vocabulary import PAD_ID, UNK_ID, hash_ngrams

TEST_TEXTS = ["great zebra movie", "", "<br/>", "Loved it, loved it, loved it, loved it and loved it!"]


def rows(batch):
    """Each row's real ids, without padding."""
    return [r[:n] for r, n in zip(batch.ids.tolist(), batch.lengths.tolist())]


def same_batch(a, b) -> bool:
    return (torch.equal(a.ids, b.ids) and torch.equal(a.lengths, b.lengths)
            and (a.labels is b.labels is None or torch.equal(a.labels, b.labels)))


# -- fit / transform ---------------------------------------------------------------------------
def test_fit_returns_self_and_transform_pads_to_the_longest_row(tiny_texts):
    pipe = TextPipeline()
    assert pipe.fit(tiny_texts) is pipe
    batch = pipe.transform(TEST_TEXTS, labels=[1, 0, 0, 1])
    token_counts = [len(pipe.analyze(t)) for t in TEST_TEXTS]
    assert token_counts == [3, 0, 0, 15]
    assert isinstance(batch, textkit.Batch)
    assert batch.ids.shape == (4, 15) and batch.ids.dtype == torch.int64
    assert batch.lengths.tolist() == token_counts and batch.lengths.dtype == torch.int64
    assert batch.labels.tolist() == [1, 0, 0, 1] and batch.labels.dtype == torch.int64
    assert rows(batch) == [pipe.vocab.encode(pipe.analyze(t)) for t in TEST_TEXTS]
    assert (batch.ids[~batch.mask] == PAD_ID).all()
    assert pipe.transform(TEST_TEXTS).labels is None
    assert same_batch(pipe(TEST_TEXTS), pipe.transform(TEST_TEXTS))


def test_max_length_caps_t_and_lengths(tiny_texts):
    batch = TextPipeline(max_length=5).fit(tiny_texts).transform(TEST_TEXTS)
    assert batch.ids.shape == (4, 5)
    assert batch.lengths.tolist() == [3, 0, 0, 5]
    short = TextPipeline(max_length=50).fit(tiny_texts).transform(["great movie"])
    assert short.ids.shape == (1, 2)  # padded to the longest row, not to max_length


def test_pre_truncation_keeps_the_end(tiny_texts):
    pipe = TextPipeline(max_length=3, truncation="pre").fit(tiny_texts)
    batch = pipe.transform(["great movie, loved it", "great"])
    assert rows(batch) == [pipe.vocab.encode([",", "loved", "it"]), pipe.vocab.encode(["great"])]
    assert batch.lengths.tolist() == [3, 1]


def test_min_length(tiny_texts):
    batch = TextPipeline(min_length=7, max_length=10).fit(tiny_texts).transform(["great", ""])
    assert batch.ids.shape == (2, 7) and batch.lengths.tolist() == [1, 0]


@pytest.mark.parametrize("text", ["", "   ", "<br/>", "<p></p>\u200b"])
def test_text_that_cleans_to_nothing_is_a_row_of_pad(tiny_texts, text):
    batch = TextPipeline().fit(tiny_texts).transform([text, "great"])
    assert batch.lengths.tolist() == [0, 1]
    assert batch.ids[0].tolist() == [PAD_ID]


def test_empty_list(tiny_texts):
    pipe = TextPipeline().fit(tiny_texts)
    batch = pipe.transform([])
    assert batch.ids.shape[0] == 0 and batch.lengths.shape == (0,)
    assert pipe.encode([]) == []
    with pytest.raises(ValueError, match=r"fit\(\) needs at least one text, got an empty list"):
        TextPipeline().fit([])


def test_transform_before_fit_says_what_to_call():
    pipe = TextPipeline()
    for call in (pipe.transform, pipe.encode, pipe):
        with pytest.raises(RuntimeError, match=r"not fitted yet: call \.fit\(train_texts\) first"):
            call(["text"])
    with pytest.raises(RuntimeError, match=r"call \.fit"):
        pipe.num_embeddings


def test_vocabulary_comes_from_the_fit_texts_only(tiny_texts):
    pipe = TextPipeline().fit(tiny_texts)
    assert "zebra" not in pipe.vocab
    assert rows(pipe.transform(["great zebra"])) == [[pipe.vocab["great"], UNK_ID]]
    assert "zebra" not in pipe.vocab  # transform never grows the vocabulary
    assert "great" in pipe.vocab and "<url>" in pipe.vocab


def test_refit_replaces_the_vocabulary(tiny_texts):
    pipe = TextPipeline().fit(tiny_texts).fit(["zebra"])
    assert pipe.vocab.itos == ["<pad>", "<unk>", "zebra"]


def test_vocabulary_limits(tiny_texts):
    assert len(TextPipeline(max_vocab_size=6).fit(tiny_texts).vocab) == 6
    pipe = TextPipeline(min_freq=2).fit(tiny_texts)
    assert set(pipe.vocab.itos[2:]) == {"great", "i", "it", ".", ",", "boring", "the", "loved"}


def test_cleaner_options(tiny_texts):
    assert TextPipeline(cleaner=None).cleaner == TextCleaner()
    assert TextPipeline(cleaner=True).cleaner == TextCleaner()
    assert TextPipeline(cleaner={"lowercase": False}).cleaner == TextCleaner(lowercase=False)
    assert TextPipeline(cleaner=False).cleaner is None
    assert TextPipeline(cleaner=False).analyze("GREAT <br/>") == ["GREAT", "<", "br", "/", ">"]
    assert TextPipeline(cleaner=TextCleaner(lowercase=False)).analyze("GREAT <br/>") == ["GREAT"]


# Whitespace-like controls (\x1c-\x1f: page and record separators in PDF text), the one
# text whose tags only show after whitespace is collapsed, and NLTK's quote rules.
ANALYSIS_TEXTS = ["a\x1fb c", "one\x1c\x1dtwo", "x\u2028y  z\x85w \x1e", '\x1c"quoted"\x1c', "n't\u2002n't",
                  "<b" + " " * 3000 + ">x", "Sooooo GOOD!!! <br />See https://x.io &amp; @bob", "", " \t "]


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
def test_analysis_is_tokenizer_of_cleaner_for_every_tokenizer(tokenizer):
    """One definition of analysis: the pipeline's tokens are tokenizer(cleaner(text)), whatever
    shortcut the analyzer takes (it once skipped the whitespace step for every tokenizer, and
    NLTK's TweetTokenizer then returned "\x1f" as a token)."""
    pipe = TextPipeline(tokenizer=tokenizer)
    expected = [pipe.tokenizer(pipe.cleaner(text)) for text in ANALYSIS_TEXTS]
    assert [pipe.analyze(text) for text in ANALYSIS_TEXTS] == expected
    assert pipe.analyzer.many(ANALYSIS_TEXTS) == expected
    assert not any(token.isspace() for tokens in expected for token in tokens)


def test_encode_gives_unpadded_uncut_rows(tiny_texts):
    pipe = TextPipeline(max_length=2).fit(tiny_texts)
    encoded = pipe.encode(TEST_TEXTS)
    assert encoded == [pipe.vocab.encode(pipe.analyze(t)) for t in TEST_TEXTS]
    assert [len(r) for r in encoded] == [3, 0, 0, 15]
    assert all(type(i) is int for r in encoded for i in r)


@pytest.mark.parametrize("options", [
    {},
    {"ngram_range": (1, 2)},
    {"ngram_range": (1, 3), "ngram_buckets": 100, "max_length": 6, "truncation": "pre"},
    {"tokenizer": "char", "min_length": 5},
])
def test_fit_transform_equals_fit_then_transform(tiny_texts, tiny_labels, options):
    one_pass = TextPipeline(**options)
    two_pass = TextPipeline(**options)
    batch = one_pass.fit_transform(tiny_texts, labels=tiny_labels)
    assert one_pass.vocab == two_pass.fit(tiny_texts).vocab
    assert same_batch(batch, two_pass.transform(tiny_texts, labels=tiny_labels))


# -- n-grams -----------------------------------------------------------------------------------
def test_ngrams_enter_the_vocabulary_without_hashing(tiny_texts):
    pipe = TextPipeline(ngram_range=(1, 2)).fit(tiny_texts)
    assert pipe.analyze("Great movie!") == ["great", "movie", "!", "great movie", "movie !"]
    assert "great movie" in pipe.vocab and "great" in pipe.vocab
    assert pipe.num_embeddings == len(pipe.vocab)
    assert rows(pipe.transform(["great movie"])) == [pipe.vocab.encode(["great", "movie", "great movie"])]


def test_hashed_ngrams_land_in_buckets_after_the_vocabulary(tiny_texts):
    buckets = 16
    pipe = TextPipeline(ngram_range=(1, 3), ngram_buckets=buckets).fit(tiny_texts)
    assert not any(" " in tok for tok in pipe.vocab)  # n-grams never enter the vocabulary
    assert pipe.num_embeddings == len(pipe.vocab) + buckets
    tokens = pipe.analyze("great movie, loved it")
    (row,) = rows(pipe.transform(["great movie, loved it"]))
    assert len(row) == len(tokens) == 5 + 4 + 3
    unigram_ids, ngram_ids = row[:5], row[5:]
    assert unigram_ids == pipe.vocab.encode(tokens[:5])
    assert all(len(pipe.vocab) <= i < len(pipe.vocab) + buckets for i in ngram_ids)
    assert ngram_ids == hash_ngrams(tokens[5:], buckets, len(pipe.vocab))


HASH_IN_SUBPROCESS = """
from textkit.pipeline import TextPipeline
from textkit.tokenization import TOKENIZERS
pipe = TextPipeline(ngram_range=(1, 2), ngram_buckets=1000).fit({texts!r})
print(pipe.encode({texts!r}))
"""


def test_hashed_ids_are_stable_across_processes(run_python, tiny_texts):
    here = TextPipeline(ngram_range=(1, 2), ngram_buckets=1000).fit(tiny_texts).encode(tiny_texts)
    code = HASH_IN_SUBPROCESS.format(texts=tiny_texts)
    for seed in ("1", "2"):  # str hash() differs between these; crc32 must not
        assert json.loads(run_python(code, PYTHONHASHSEED=seed)) == here


def test_ngram_options_are_validated():
    with pytest.raises(ValueError, match=r"ngram_buckets must be an int >= 0, got -1"):
        TextPipeline(ngram_range=(1, 2), ngram_buckets=-1)
    with pytest.raises(ValueError, match=r"ngram_range must be .*got \(2, 1\)"):
        TextPipeline(ngram_range=(2, 1))


# -- save / load -------------------------------------------------------------------------------
CONFIGS = {
    "default": {},
    "custom-cleaner": {"cleaner": TextCleaner(hashtags="word", emoji="name", numbers="replace", strip_accents=True,
                                              url_token="<link>", max_repeats=3)},
    "cleaner-dict": {"cleaner": {"lowercase": False, "urls": "remove"}},
    "no-cleaner": {"cleaner": False, "tokenizer": "whitespace"},
    "spacy": {"tokenizer": "spacy"},
    "nltk-treebank": {"tokenizer": "nltk-treebank", "min_freq": 2},
    "nltk-tweet": {"tokenizer": "nltk-tweet", "max_vocab_size": 10},
    "char": {"tokenizer": "char", "min_length": 4},
    "ngrams": {"ngram_range": (1, 2)},
    "ngrams-buckets": {"ngram_range": (2, 3), "ngram_buckets": 50},
    "pre-truncation": {"max_length": 4, "truncation": "pre"},
}


@pytest.mark.parametrize("name", CONFIGS)
def test_save_load_round_trip(tmp_path, tiny_texts, messy_review, name):
    pipe = TextPipeline(**CONFIGS[name]).fit(tiny_texts)
    path = tmp_path / "pipeline.json"
    pipe.save(path)
    loaded = TextPipeline.load(path)
    texts = TEST_TEXTS + [messy_review] + tiny_texts
    assert loaded.vocab == pipe.vocab
    assert loaded.cleaner == pipe.cleaner
    assert loaded.to_dict() == pipe.to_dict()
    assert same_batch(loaded.transform(texts), pipe.transform(texts))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "textkit.TextPipeline" and data["version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["pipeline.json"]  # no temporary file left


def test_save_load_unfitted(tmp_path):
    TextPipeline(tokenizer="char").save(tmp_path / "p.json")
    loaded = TextPipeline.load(str(tmp_path / "p.json"))
    assert loaded.vocab is None
    with pytest.raises(RuntimeError, match=r"call \.fit"):
        loaded.transform(["a"])


def test_saving_a_custom_tokenizer_refuses_and_writes_nothing(tmp_path, tiny_texts):
    def my_tokenizer(text):
        return text.split()

    pipe = TextPipeline(tokenizer=my_tokenizer).fit(tiny_texts)
    with pytest.raises(ValueError, match=r"cannot save a TextPipeline with a custom tokenizer callable "
                                         r"\('my_tokenizer'\)"):
        pipe.save(tmp_path / "p.json")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def saved(tmp_path, tiny_texts):
    path = tmp_path / "pipeline.json"
    TextPipeline(ngram_range=(1, 2)).fit(tiny_texts).save(path)
    return path


def _rewrite(path, change):
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _load_error(path, match):
    with pytest.raises(ValueError, match=re.escape(f"pipeline file {str(path)!r}") + ".*" + match):
        TextPipeline.load(path)


def test_truncated_file(saved):
    text = saved.read_text(encoding="utf-8")
    saved.write_text(text[: len(text) // 2], encoding="utf-8")
    _load_error(saved, r"is not valid JSON: .* at line \d+ column \d+")


def test_empty_file(saved):
    saved.write_text("", encoding="utf-8")
    _load_error(saved, r"is not valid JSON: Expecting value at line 1 column 1")


def test_not_utf8(saved):
    saved.write_bytes(b'{"format": "\xff\xfe"}')
    _load_error(saved, r"is not UTF-8 JSON \(byte 12\)")


@pytest.mark.parametrize("content", [
    [1, 2],
    {"type": "Vocab", "tokens": ["<pad>", "<unk>"]},
    {"format": "sklearn.Pipeline", "version": 1},
])
def test_wrong_format(saved, content):
    saved.write_text(json.dumps(content), encoding="utf-8")
    _load_error(saved, r'is not a textkit pipeline \(expected "format": "textkit.TextPipeline"\)')


def test_newer_version(saved):
    _rewrite(saved, lambda d: d.update(version=2))
    _load_error(saved, r"has pipeline format version 2; this textkit \(.*\) reads versions up to 1: upgrade textkit")


@pytest.mark.parametrize("version", [None, "1", 0, 1.5])
def test_invalid_version(saved, version):
    _rewrite(saved, lambda d: d.update(version=version))
    _load_error(saved, rf"has an invalid pipeline format version {re.escape(repr(version))}.*the file is damaged")


@pytest.mark.parametrize("key", ["version", "cleaner", "tokenizer", "ngrams", "vocab", "vocab_options", "padding"])
def test_missing_key(saved, key):
    _rewrite(saved, lambda d: d.pop(key))
    _load_error(saved, rf"is missing the key '{key}'; the file is damaged")


@pytest.mark.parametrize("change, match", [
    (lambda d: d["tokenizer"].update(type="spacey"), r": unknown tokenizer 'spacey' \(did you mean 'spacy'\?\).*register_tokenizer\('spacey', fn\)"),
    (lambda d: d["cleaner"]["config"].update(lowercse=True), r"is damaged: unknown TextCleaner option.*'lowercse'"),
    (lambda d: d["cleaner"]["config"].update(urls="mask"), r"is damaged: .*urls= must be one of"),
    (lambda d: d["padding"].update(max_length="x"), r"is damaged: max_length must be a positive int"),
    (lambda d: d["vocab"].update(tokens=["a", "b"]), r"is damaged: Vocab tokens must start with '<pad>', '<unk>'"),
    (lambda d: d.update(vocab=[1]), r": 'vocab' must be an object, got an array; the file is damaged"),
    (lambda d: d["ngrams"].update(range=[3, 1]), r"is damaged: ngram_range must be"),
    # once accepted, then hung compiling a 200 MB pattern at the first text (5.8 GB after 7 min)
    (lambda d: d["cleaner"]["config"].update(max_repeats=100_000_000),
     r"is damaged: TextCleaner option max_repeats= must be an int from 0 \(off\) to 1000, got 100000000$"),
    (lambda d: d["cleaner"]["config"].update(url_token="<" + "u" * 10**6 + ">"),
     r"is damaged: TextCleaner option url_token= must look like '<url>'.*got '<uuu+$"),
])
def test_damaged_content(saved, change, match):
    _rewrite(saved, change)
    _load_error(saved, match)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(FileNotFoundError, match=re.escape(f"pipeline file {str(path)!r} does not exist")):
        TextPipeline.load(path)


# -- multiprocess -------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [
    {"ngram_range": (1, 2)},
    {"ngram_range": (1, 2), "ngram_buckets": 64, "max_length": 20},
    {"tokenizer": "spacy"},
])
def test_two_processes_equal_one(monkeypatch, options):
    rng = np.random.default_rng(7)
    words = np.array("good bad great awful movie film plot Actor boring fun sooooo <br/> @bob "
                     "http://x.io café 😀 3.5 don't".split())
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 25))) for _ in range(160)]
    monkeypatch.setattr(analyzer, "PARALLEL_MIN_CHARS", 1_000)
    serial = TextPipeline(num_proc=1, **options)
    parallel = TextPipeline(num_proc=2, **options)
    assert len(list(map_chunks(parallel.analyzer, texts, 2))) > 1  # the process pool really ran

    assert parallel.fit(texts).vocab == serial.fit(texts).vocab
    assert same_batch(parallel.transform(texts), serial.transform(texts))
    assert parallel.encode(texts) == serial.encode(texts)
    assert same_batch(TextPipeline(num_proc=2, **options).fit_transform(texts), serial.transform(texts))


def test_first_seen_and_merge_counts():
    tokens, ids = analyzer.first_seen(iter(["b", "a", "b", "c", "a"]), 5)
    assert tokens == ["b", "a", "c"] and ids.tolist() == [0, 1, 0, 2, 1]
    tokens, ids = analyzer.first_seen(iter([]), 0)
    assert tokens == [] and ids.shape == (0,)
    chunks = [analyzer.ChunkResult(["x", "y"], np.array([3, 1]), np.zeros(0), np.zeros(0)),
              analyzer.ChunkResult(["z", "x"], np.array([2, 5]), np.zeros(0), np.zeros(0))]
    tokens, totals, positions = analyzer.merge_counts(chunks)
    assert tokens == ["x", "y", "z"] and totals.tolist() == [8, 1, 2]
    assert [p.tolist() for p in positions] == [[0, 1], [2, 0]]


def test_num_proc_is_validated():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match=rf"num_proc must be None \(all cores\) or an int >= 1, got {bad!r}"):
            TextPipeline(num_proc=bad)


# -- bad input ---------------------------------------------------------------------------------
@pytest.fixture
def fitted(tiny_texts):
    return TextPipeline().fit(tiny_texts)


@pytest.mark.parametrize("method", ["fit", "transform", "fit_transform", "encode"])
def test_a_bare_string_is_refused(fitted, method):
    with pytest.raises(TypeError, match=r"texts must be a list of strings, got a single str; wrap one text "
                                        r"in a list: \[text\]"):
        getattr(fitted, method)("great movie")
    with pytest.raises(TypeError, match=r"got a single bytes"):
        getattr(fitted, method)(b"great movie")


@pytest.mark.parametrize("bad, match", [
    (None, r"texts\[2\] must be a str, got None \(a missing value: drop or fill it first\)"),
    (float("nan"), r"texts\[2\] must be a str, got NaN \(a missing value: drop or fill it first\)"),
    (np.float64("nan"), r"texts\[2\] must be a str, got NaN"),
    (b"caf\xc3\xa9", r"texts\[2\] must be a str, got bytes b'caf\\xc3\\xa9'\.\.\. \(decode it first"),
    (42, r"texts\[2\] must be a str, got int 42"),
    (["a", "list"], r"texts\[2\] must be a str, got list"),
])
@pytest.mark.parametrize("method", ["fit", "transform", "encode"])
def test_a_bad_element_is_named_by_index(fitted, bad, match, method):
    with pytest.raises(TypeError, match=match):
        getattr(fitted, method)(["good", "bad", bad])


def test_texts_must_be_iterable(fitted):
    with pytest.raises(TypeError, match=r"texts must be a list of strings, got NoneType"):
        fitted.transform(None)
    with pytest.raises(TypeError, match=r"texts must be a list of strings, got int"):
        fitted.transform(5)


def test_any_iterable_of_strings_works(fitted):
    expected = fitted.transform(["great", "movie"])
    assert same_batch(fitted.transform(("great", "movie")), expected)
    assert same_batch(fitted.transform(t for t in ["great", "movie"]), expected)
    assert same_batch(fitted.transform(np.array(["great", "movie"])), expected)


def test_labels_must_match_texts(fitted):
    with pytest.raises(ValueError, match=r"labels has 2 items but texts has 3"):
        fitted.transform(["a", "b", "c"], labels=[0, 1])
    with pytest.raises(ValueError, match=r"labels has 1 items but texts has 2"):
        TextPipeline().fit_transform(["a", "b"], labels=[0])


@pytest.mark.parametrize("options, error, match", [
    ({"tokenizer": "spacey"}, ValueError, r"unknown tokenizer 'spacey' \(did you mean 'spacy'\?\)"),
    ({"cleaner": {"lowercse": True}}, ValueError, r"'lowercse' \(did you mean 'lowercase'\?\)"),
    ({"cleaner": "default"}, TypeError, r"cleaner must be a TextCleaner, a config dict, None or False, got str"),
    ({"truncation": "end"}, ValueError, r"truncation must be one of \('post', 'pre'\), got 'end'"),
    ({"max_length": 0}, ValueError, r"max_length must be a positive int or None, got 0"),
    ({"min_length": 8, "max_length": 4}, ValueError, r"min_length \(8\) must not exceed max_length \(4\)"),
    ({"min_freq": 0}, ValueError, r"min_freq must be an int >= 1, got 0"),
    ({"max_vocab_size": 1}, ValueError, r"max_vocab_size must be None or an int >= 2 \(PAD and UNK count\), got 1"),
    ({"lowercase": True}, TypeError, r"lowercase"),
])
def test_bad_options_name_the_option(options, error, match):
    with pytest.raises(error, match=match):
        TextPipeline(**options)


def test_five_megabyte_document():
    document = "Great movie, I loved it! " * 200_000 + "THE END"
    assert len(document) > 5_000_000
    pipe = TextPipeline(max_length=64).fit(["great movie, i loved it!", "the end"])
    start = time.perf_counter()
    batch = pipe.transform([document, "great"])
    elapsed = time.perf_counter() - start
    assert batch.ids.shape == (2, 64) and batch.lengths.tolist() == [64, 1]
    assert rows(batch)[0][:7] == pipe.vocab.encode(["great", "movie", ",", "i", "loved", "it", "!"])
    assert elapsed < 20, f"a 5 MB document took {elapsed:.1f} s"
    pre = TextPipeline(max_length=64, truncation="pre")
    pre.vocab = pipe.vocab
    assert rows(pre.transform([document]))[0][-3:] == pipe.vocab.encode(["!", "the", "end"])


def _worker_signal_state() -> tuple[bool, str]:
    import signal

    return signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, []), signal.getsignal(signal.SIGTERM).__name__


@pytest.mark.skipif(not hasattr(__import__("signal"), "pthread_sigmask"), reason="no signal masks (Windows)")
def test_pool_workers_start_with_signals_held_until_their_own_handlers_are_set():
    """A SIGTERM between a worker's fork and its initializer used to run the parent's (the CLI's)
    handler in the worker: a traceback, now and then a hung pool."""
    import multiprocessing
    import signal

    with analyzer.signals_held():
        assert {signal.SIGINT, signal.SIGTERM} <= signal.pthread_sigmask(signal.SIG_BLOCK, [])
        pool = multiprocessing.get_context("fork").Pool(1, initializer=analyzer.worker_signals)
    try:
        assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # the parent's mask is back
        assert pool.apply(_worker_signal_state) == (False, "_exit_quietly")  # unblocked once handled
    finally:
        analyzer.stop_pool(pool)
