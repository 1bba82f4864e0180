"""Stage 2, ``str -> list[str]``: every tokenizer's exact output, placeholders kept whole,
word n-grams, name errors, and lazy spaCy/NLTK imports."""
from __future__ import annotations

import multiprocessing

import pytest

from textkit.cleaning import TextCleaner
from textkit.pipeline import TextPipeline
from textkit.tokenization import TOKENIZERS, get_tokenizer, tokenizer_name, word_ngrams

SENTENCES = [
    "don't stop the state-of-the-art movie!",
    "i can't believe it's $5.99... :-) #wow @bob",
    "(<url>) <email>.",
]

EXPECTED = {
    "regex": [
        ["don't", "stop", "the", "state-of-the-art", "movie", "!"],
        ["i", "can't", "believe", "it's", "$", "5", ".", "99", ".", ".", ".", ":", "-", ")", "#", "wow", "@", "bob"],
        ["(", "<url>", ")", "<email>", "."],
    ],
    "words": [
        ["don", "stop", "the", "state", "of", "the", "art", "movie"],
        ["can", "believe", "it", "99", "wow", "bob"],
        ["<url>", "<email>"],
    ],
    "whitespace": [
        ["don't", "stop", "the", "state-of-the-art", "movie!"],
        ["i", "can't", "believe", "it's", "$5.99...", ":-)", "#wow", "@bob"],
        ["(<url>)", "<email>."],
    ],
    "char": [
        list("don't") + list("stop") + list("the") + list("state-of-the-art") + list("movie!"),
        list("i") + list("can't") + list("believe") + list("it's") + list("$5.99...") + list(":-)") + list("#wow")
        + list("@bob"),
        ["(", "<url>", ")", "<email>", "."],
    ],
    "spacy": [
        ["do", "n't", "stop", "the", "state", "-", "of", "-", "the", "-", "art", "movie", "!"],
        ["i", "ca", "n't", "believe", "it", "'s", "$", "5.99", "...", ":-)", "#", "wow", "@bob"],
        ["(", "<url>", ")", "<email>", "."],
    ],
    "nltk-treebank": [
        ["do", "n't", "stop", "the", "state-of-the-art", "movie", "!"],
        ["i", "ca", "n't", "believe", "it", "'s", "$", "5.99", "...", ":", "-", ")", "#", "wow", "@", "bob"],
        ["(", "<url>", ")", "<email>", "."],
    ],
    "nltk-tweet": [
        ["don't", "stop", "the", "state-of-the-art", "movie", "!"],
        ["i", "can't", "believe", "it's", "$", "5.99", "...", ":-)", "#wow", "@bob"],
        ["(", "<url>", ")", "<email>", "."],
    ],
}


def test_every_registered_tokenizer_has_expectations():
    assert sorted(EXPECTED) == sorted(TOKENIZERS)


@pytest.mark.parametrize("name", TOKENIZERS)
def test_exact_tokens(name):
    tokenize = get_tokenizer(name)
    assert [tokenize(s) for s in SENTENCES] == EXPECTED[name]


@pytest.mark.parametrize("name", TOKENIZERS)
def test_empty_and_blank_text_give_no_tokens(name):
    tokenize = get_tokenizer(name)
    assert tokenize("") == []
    assert tokenize(" \n\t ") == []


def test_spacy_batches_equal_single_calls():
    spacy_tok = get_tokenizer("spacy")
    assert spacy_tok.pipe(SENTENCES + [""]) == [spacy_tok(s) for s in SENTENCES + [""]]


def test_regex_details():
    tokenize = get_tokenizer("regex")
    assert tokenize("don\u2019t café naïve") == ["don\u2019t", "café", "naïve"]
    assert tokenize("<3 C++ a--b") == ["<", "3", "C", "+", "+", "a", "-", "-", "b"]
    assert tokenize("x\\?y") == ["x", "\\", "?", "y"]  # no literal "\?" tokens


def test_words_are_countvectorizers_tokens_and_placeholders():
    from sklearn.feature_extraction.text import CountVectorizer

    text = "From: bob <bob@mit.edu> wrote:\n> don\u2019t 3.5 C++ na\u00efve x-ray _id_ a1 \u00e9t\u00e9"
    assert get_tokenizer("words")(text) == CountVectorizer(lowercase=False).build_tokenizer()(text)
    assert get_tokenizer("words")("see <url>, <user>!") == ["see", "<url>", "<user>"]


def test_ascii_patterns_give_the_unicode_patterns_tokens():
    """ASCII text goes through a re.ASCII pattern; every 1- and 2-character ASCII text (and
    whitespace \\x1c-\\x1f inside words) must split as the Unicode pattern splits it."""
    from itertools import product

    from textkit.tokenization import _REGEX_TOKEN, _WORD_TOKEN, regex_tokenize, words_tokenize

    chars = [chr(i) for i in range(128)]
    texts = [*chars, *map("".join, product(chars, repeat=2)), "a\x1cb\x1fc", "<url>\x1d<b>", "it's\x1ea-b"]
    for text in texts:
        assert regex_tokenize(text) == _REGEX_TOKEN.findall(text), repr(text)
        assert words_tokenize(text) == _WORD_TOKEN.findall(text), repr(text)


def test_spacy_other_language_and_bad_language():
    assert get_tokenizer("spacy", lang="de")("Das ist's, z.B. gut.") == ["Das", "ist's", ",", "z.B.", "gut", "."]
    with pytest.raises(ValueError, match="spaCy has no language 'zz'"):
        get_tokenizer("spacy", lang="zz")("text")


def test_user_callable():
    def split_commas(text: str) -> list[str]:
        return [t for t in text.split(",") if t]

    assert get_tokenizer(split_commas) is split_commas
    assert tokenizer_name(split_commas) is None
    pipe = TextPipeline(tokenizer=split_commas, cleaner=False).fit(["a b,c", "c"])
    assert pipe.analyze("a b,c,zzz") == ["a b", "c", "zzz"]
    assert pipe.encode(["c,a b,zzz"]) == [[pipe.vocab["c"], pipe.vocab["a b"], 1]]


@pytest.mark.parametrize("name", TOKENIZERS)
def test_tokenizer_name_round_trip(name):
    assert tokenizer_name(get_tokenizer(name)) == name


def test_library_tokenizers_run_in_a_spawned_worker_after_use():
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        for name in ("spacy", "nltk-treebank", "nltk-tweet"):
            tokenize = get_tokenizer(name)
            before = tokenize(SENTENCES[1])  # loads the library object, which must not be sent along
            assert pool.apply(tokenize, (SENTENCES[1],)) == before, name


# -- placeholders ----------------------------------------------------------------------------
RAW = "Visit https://x.io/a?b=1, mail me@site.org (or @bob!) #wow 42 times"


@pytest.mark.parametrize("name", TOKENIZERS)
def test_cleaner_placeholders_stay_one_token(name):
    cleaner = TextCleaner(hashtags="replace", numbers="replace")
    tokens = TextPipeline(cleaner=cleaner, tokenizer=name).analyze(RAW)
    for placeholder in ("<url>", "<email>", "<user>", "<hashtag>", "<number>"):
        assert tokens.count(placeholder) == 1, tokens
    assert "<" not in tokens and ">" not in tokens


@pytest.mark.parametrize("name", [n for n in TOKENIZERS if n != "whitespace"])
def test_placeholders_glued_to_punctuation_stay_whole(name):
    tokens = get_tokenizer(name)("a (<url>) b x<user>'s <email>, <number>.")
    for placeholder in ("<url>", "<email>", "<user>", "<number>"):
        assert placeholder in tokens, tokens


@pytest.mark.parametrize("name", TOKENIZERS)
@pytest.mark.parametrize("token", ["<link>", "<LINK>"])
def test_custom_placeholder_stays_one_token(name, token):
    tokens = TextPipeline(cleaner=TextCleaner(url_token=token), tokenizer=name).analyze("see http://x.io now")
    assert tokens.count("<link>") == 1 and "<" not in tokens, tokens


# -- names ---------------------------------------------------------------------------------
@pytest.mark.parametrize("typo, suggestion", [
    ("regx", "regex"), ("spacey", "spacy"), ("nltk_tweet", "nltk-tweet"), ("treebank", "nltk-treebank"),
    ("chars", "char"),
])
def test_unknown_tokenizer_suggests_a_close_name(typo, suggestion):
    with pytest.raises(ValueError, match=rf"unknown tokenizer '{typo}' \(did you mean '{suggestion}'\?\)"):
        get_tokenizer(typo)


def test_unknown_tokenizer_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown tokenizer 'zzz'; choose one of \['regex', .*'nltk-tweet'\]"):
        get_tokenizer("zzz")
    with pytest.raises(ValueError, match=r"unknown tokenizer 'bert'"):
        TextPipeline(tokenizer="bert")


# -- word n-grams ----------------------------------------------------------------------------
@pytest.mark.parametrize("tokens, ngram_range, expected", [
    (["a", "b", "c"], (1, 1), ["a", "b", "c"]),
    (["a", "b", "c"], (1, 2), ["a", "b", "c", "a b", "b c"]),
    (["a", "b", "c", "d"], (2, 3), ["a b", "b c", "c d", "a b c", "b c d"]),
    (["a", "b"], [1, 3], ["a", "b", "a b"]),  # n larger than the text: no n-gram of that size
    (["a"], (2, 2), []),
    ([], (1, 3), []),
])
def test_word_ngrams(tokens, ngram_range, expected):
    assert word_ngrams(tokens, ngram_range) == expected


def test_word_ngrams_do_not_mutate_the_input():
    tokens = ["a", "b"]
    word_ngrams(tokens, (1, 2))
    assert tokens == ["a", "b"]


@pytest.mark.parametrize("bad", [(0, 1), (2, 1), (-1, 2), (1.0, 2), (1, 2.5), 2, (1,), (1, 2, 3), None, "12"])
def test_invalid_ngram_ranges(bad):
    word_ngrams(["a", "b"], (1, 2))  # a valid range seen first must not make a bad one pass
    with pytest.raises(ValueError, match=r"ngram_range must be \(min_n, max_n\) with 1 <= min_n <= max_n, got"):
        word_ngrams(["a", "b"], bad)
    with pytest.raises(ValueError, match=r"ngram_range must be"):
        TextPipeline(ngram_range=bad)


# -- lazy imports ----------------------------------------------------------------------------
LAZY = """
import sys
import textkit
from textkit.pipeline import TextPipeline
loaded = lambda: sorted(m for m in ("spacy", "nltk") if m in sys.modules)
print(loaded())
for name in ("spacy", "nltk-treebank", "nltk-tweet"):
    textkit.get_tokenizer(name)
    TextPipeline(tokenizer=name)
print(loaded())
textkit.get_tokenizer("spacy")("a b")
textkit.get_tokenizer("nltk-tweet")("a b")
print(loaded())
"""


def test_spacy_and_nltk_are_imported_lazily(run_python):
    before, built, used = run_python(LAZY).split("\n")[:3]
    assert before == "[]"            # import textkit
    assert built == "[]"             # building tokenizers and pipelines
    assert used == "['nltk', 'spacy']"  # the first tokenization imports them (proves the check works)
