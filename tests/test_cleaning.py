"""Stage 1, ``str -> str``: every cleaning step alone (module function and TextCleaner
option), the documented defaults, config round trips and option errors."""
from __future__ import annotations

import json
import multiprocessing
import time

import pytest

from textkit import cleaning
from textkit.cleaning import TextCleaner

# Every step off: `only(step=...)` then shows one TextCleaner option by itself.
ALL_OFF = dict(fix_unicode=False, normalize=None, html=False, control=False, urls="keep", emails="keep",
               mentions="keep", hashtags="keep", emoji="keep", numbers="keep", strip_accents=False,
               lowercase=False, max_repeats=0, whitespace=False)


def only(**options) -> TextCleaner:
    return TextCleaner(**{**ALL_OFF, "whitespace": True, **options})


def test_all_off_changes_nothing():
    text = "  Ã© <b>X</b> &amp; https://x.io a@b.org @bob #tag 😀 42 café Sooooo\u200b  "
    assert TextCleaner(**ALL_OFF)(text) == text
    assert TextCleaner(**ALL_OFF).steps == []


# -- 1. fix_unicode ------------------------------------------------------------------------
@pytest.mark.parametrize("raw, fixed", [
    ("doesnÃ¢â‚¬â„¢t", "doesn't"),          # UTF-8 read as cp1252, twice; curly quote straightened
    ("cafÃ©", "café"),                       # UTF-8 read as Latin-1
    ("10\x9620 people", "10–20 people"),    # cp1252 read as Latin-1: C1 control -> en dash
    ("it\u2019s \u201cfine\u201d", "it's \"fine\""),
    ("naïve café, señor", "naïve café, señor"),   # correct text is left alone
    ("plain ascii", "plain ascii"),
])
def test_fix_unicode(raw, fixed):
    assert cleaning.fix_unicode(raw) == fixed
    assert only(fix_unicode=True)(raw) == fixed


def test_fix_unicode_leaves_widths_and_ligatures_to_normalize():
    assert cleaning.fix_unicode("\ufb01ne \uff21") == "\ufb01ne \uff21"
    assert only(fix_unicode=False)("cafÃ©") == "cafÃ©"


# -- 2. normalize --------------------------------------------------------------------------
@pytest.mark.parametrize("raw, nfkc", [
    ("\uff21\uff22\uff23\uff11\uff12\uff13", "ABC123"),  # full-width
    ("\ufb01ne", "fine"),                                   # ligature
    ("x\u00b2", "x2"),
    ("cafe\u0301", "café"),                                  # combining accent composed
])
def test_normalize_nfkc(raw, nfkc):
    assert cleaning.normalize_unicode(raw) == nfkc
    assert only(normalize="NFKC")(raw) == nfkc


def test_normalize_other_forms_and_off():
    assert cleaning.normalize_unicode("cafe\u0301 \ufb01", form="NFC") == "café \ufb01"
    assert cleaning.normalize_unicode("café", form="NFD") == "cafe\u0301"
    assert only(normalize="NFC")("\ufb01") == "\ufb01"
    assert only(normalize=None)("\ufb01") == "\ufb01"


# -- 3. html -------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, clean", [
    ("great<br />movie", "great movie"),           # block tags never glue words
    ("one<br>two<BR/>three", "one two three"),
    ("<p>first</p><p>second</p>", "first second"),
    ("<div class='x'>a</div><li>b</li>", "a b"),
    ("<b>bold</b>ly <i>it</i>", "boldly it"),      # inline tags vanish in place
    ("&amp; &lt;3 &gt; &quot;hi&quot; &#39;s &eacute; &#233;", "& <3 > \"hi\" 's é é"),
    ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),        # comparisons are not tags
    ("a &lt;b&gt; tag", "a tag"),                  # escaped markup is still markup: stripped too
    ("&lt;p&gt;one&lt;/p&gt;two", "one two"),       # (AG News escapes its HTML this way)
    ("&amp;amp; &amp;lt;3 &amp;quot;", "& <3 \""),  # escaped twice: decoded to the end
    ("<<b>b>x", "x"),                              # a tag made of pieces is a tag
    ("Inc. &lt;TXN.N&gt; rose", "Inc. <TXN.N> rose"),  # a tag's name ends at a space, / or >:
    ("mail <a.b@c.org> or <3", "mail <a.b@c.org> or <3"),  # these are text
    ("<o:p>Word</o:p> html", "Word html"),
])
def test_html(raw, clean):
    assert " ".join(cleaning.strip_html(raw).split()) == clean
    assert only(html=True)(raw) == clean


def test_html_stray_angle_bracket_never_eats_a_document():
    text = "a <b" + " word" * 1000 + " > end"
    assert cleaning.strip_html(text) == text


def test_html_keeps_the_given_placeholders():
    assert cleaning.strip_html("<user> <b>x</b> <url>", keep=("<user>", "<url>")) == "<user> x <url>"
    assert cleaning.strip_html("<USER> <user>", keep=("<user>",)) == " <user>"  # as emitted, case and all
    assert TextCleaner().step("html")("<user> <url> <email> <b>") == "<user> <url> <email> "
    assert TextCleaner(mentions="keep").step("html")("<user>") == ""  # not emitted: an unknown tag


def test_html_decodes_at_most_its_bound_of_rounds():
    rounds = cleaning.HTML_ROUNDS
    assert cleaning.strip_html("&" + "amp;" * rounds) == "&"
    assert cleaning.strip_html("&" + "amp;" * (rounds + 3)) == "&amp;amp;amp;"


def test_html_off_keeps_tags():
    assert only(html=False)("a<br />b &amp;") == "a<br />b &amp;"


# -- 4. control ----------------------------------------------------------------------------
@pytest.mark.parametrize("raw, clean", [
    ("a\x00b\x07c\x1bd\x7f", "abcd"),
    ("zero\u200bwidth", "zerowidth"),
    ("\ufeffbom", "bom"),
    ("soft\u00adhyphen", "softhyphen"),
    ("left\u200eright\u200f\u2060", "leftright"),
    ("a\tb\nc\r\nd", "a\tb\nc\r\nd"),              # whitespace controls stay for the whitespace step
    ("page one\x0cpage two\x0bthree", "page one\x0cpage two\x0bthree"),
    ("\U0001F468\u200d\U0001F469", "\U0001F468\u200d\U0001F469"),  # ZWJ joins emoji: kept
])
def test_control(raw, clean):
    assert cleaning.remove_control(raw) == clean
    assert TextCleaner(**{**ALL_OFF, "control": True})(raw) == clean


def test_form_feed_between_pages_does_not_glue_words():
    assert only(control=True)("end of page one\x0cPage two") == "end of page one Page two"
    assert TextCleaner()("end of page one\x0cPage two") == "end of page one page two"


def test_control_off_keeps_zero_width():
    assert only(control=False)("zero\u200bwidth") == "zero\u200bwidth"


# -- 5-8. urls, emails, mentions, hashtags ---------------------------------------------------
URL_TEXT = "see https://x.io/a?b=1 and www.example.com or HTTP://EXAMPLE.ORG/X ftp://f.net/y now"


@pytest.mark.parametrize("mode, expected", [
    ("keep", URL_TEXT),
    ("remove", "see and or now"),
    ("replace", "see <url> and <url> or <url> <url> now"),
])
def test_urls(mode, expected):
    assert " ".join(cleaning.replace_urls(URL_TEXT, mode=mode).split()) == expected
    assert only(urls=mode)(URL_TEXT) == expected


@pytest.mark.parametrize("text", ["e.g. this", "pi is 3.14", "a.b.c", "no www here"])
def test_urls_leave_non_urls(text):
    assert cleaning.replace_urls(text) == text


EMAIL_TEXT = "mail a.b+c@ex-ample.co.uk or ME@Site.ORG now"


@pytest.mark.parametrize("mode, expected", [
    ("keep", EMAIL_TEXT),
    ("remove", "mail or now"),
    ("replace", "mail <email> or <email> now"),
])
def test_emails(mode, expected):
    assert " ".join(cleaning.replace_emails(EMAIL_TEXT, mode=mode).split()) == expected
    assert only(emails=mode)(EMAIL_TEXT) == expected


MENTION_TEXT = "hi @bob_1 and @Alice!"


@pytest.mark.parametrize("mode, expected", [
    ("keep", MENTION_TEXT),
    ("remove", "hi and !"),
    ("replace", "hi <user> and <user> !"),
])
def test_mentions(mode, expected):
    assert " ".join(cleaning.replace_mentions(MENTION_TEXT, mode=mode).split()) == expected
    assert only(mentions=mode)(MENTION_TEXT) == expected


def test_emails_before_mentions_and_an_email_is_no_mention():
    text = "write bob@example.com or @bob"
    assert only(emails="replace", mentions="replace")(text) == "write <email> or <user>"
    assert only(mentions="replace")("write bob@example.com") == "write bob@example.com"


HASHTAG_TEXT = "#ML rocks #deep_learning, C# x#y"


@pytest.mark.parametrize("mode, expected", [
    ("keep", HASHTAG_TEXT),
    ("remove", "rocks , C# x#y"),
    ("replace", "<hashtag> rocks <hashtag> , C# x#y"),
    ("word", "ML rocks deep_learning, C# x#y"),
])
def test_hashtags(mode, expected):
    assert " ".join(cleaning.replace_hashtags(HASHTAG_TEXT, mode=mode).split()) == expected
    assert only(hashtags=mode)(HASHTAG_TEXT) == expected


def test_custom_replacement_tokens():
    cleaner = TextCleaner(url_token="<link>", email_token="<mail>", user_token="<at>",
                          hashtag_token="<tag>", number_token="<num>", hashtags="replace", numbers="replace")
    assert cleaner("see https://x.io, a@b.org, @bob #wow 42") == "see <link> , <mail> , <at> <tag> <num>"
    assert cleaner.replacement_tokens == ["<link>", "<mail>", "<at>", "<tag>", "<num>"]
    assert cleaning.replace_urls("go to www.x.com", token="[URL]") == "go to  [URL] "


def test_replacement_tokens_are_reported_as_emitted():
    assert TextCleaner().replacement_tokens == ["<url>", "<email>", "<user>"]
    assert TextCleaner(urls="keep", numbers="replace").replacement_tokens == ["<email>", "<user>", "<number>"]
    # lowercase runs after the replacements: "<URL>" comes out as "<url>"
    assert TextCleaner(url_token="<URL>")("see http://x.io") == "see <url>"
    assert TextCleaner(url_token="<URL>").replacement_tokens[0] == "<url>"
    assert TextCleaner(url_token="<URL>", lowercase=False).replacement_tokens[0] == "<URL>"


# -- 9. emoji ------------------------------------------------------------------------------
EMOJI_TEXT = "ok \U0001F600 \U0001F44D\U0001F3FD \U0001F468\u200d\U0001F469\u200d\U0001F467!"  # skin tone, ZWJ family


@pytest.mark.parametrize("mode, expected", [
    ("keep", EMOJI_TEXT),
    ("remove", "ok !"),
    ("name", "ok grinning_face thumbs_up_medium_skin_tone family_man_woman_girl !"),
])
def test_emoji(mode, expected):
    assert " ".join(cleaning.replace_emoji(EMOJI_TEXT, mode=mode).split()) == expected
    assert only(emoji=mode)(EMOJI_TEXT) == expected


def test_emoji_remove_leaves_no_modifier_or_joiner_behind():
    assert cleaning.replace_emoji(EMOJI_TEXT, mode="remove").isascii()


# -- 10. numbers ---------------------------------------------------------------------------
NUMBER_TEXT = "pay $1,000 or 3.5 at 10:30, -2 not x2 mp3 covid19"


@pytest.mark.parametrize("mode, expected", [
    ("keep", NUMBER_TEXT),
    ("remove", "pay $ or at , not x2 mp3 covid19"),
    ("replace", "pay $ <number> or <number> at <number> , <number> not x2 mp3 covid19"),
])
def test_numbers(mode, expected):
    assert " ".join(cleaning.replace_numbers(NUMBER_TEXT, mode=mode).split()) == expected
    assert only(numbers=mode)(NUMBER_TEXT) == expected


# -- 11-14. strip_accents, lowercase, repeats, whitespace ------------------------------------
def test_strip_accents():
    assert cleaning.strip_accents("café naïve Ångström") == "cafe naive Angstrom"
    # composed again, unless the cleaner normalizes to a decomposed form (Hangul stays jamo)
    assert cleaning.strip_accents("\ud55c") == "\ud55c"
    assert cleaning.strip_accents("\ud55c", form="NFD") == "\u1112\u1161\u11ab"
    assert cleaning.strip_accents("straße") == "straße"  # no accent to strip
    assert only(strip_accents=True)("Café") == "Cafe"
    assert only(strip_accents=False)("Café") == "Café"


def test_lowercase():
    assert cleaning.lowercase("GREAT Movie") == "great movie"
    # str.lower gives "i" + a combining dot, which is no letter and would split "İ@bob"
    assert cleaning.lowercase("\u0130STANBUL") == "istanbul"
    assert only(lowercase=True)("GREAT Movie") == "great movie"
    assert only(lowercase=False)("GREAT Movie") == "GREAT Movie"


@pytest.mark.parametrize("raw, max_repeats, expected", [
    ("sooooo goooood", 2, "soo good"),
    ("good cool", 2, "good cool"),             # two is not a repeat to cut
    ("yessss", 3, "yesss"),
    ("sooooo", 1, "so"),
    ("nöööö", 2, "nöö"),                        # any letter, not only ASCII
    ("1000000 !!!!! ... ????", 2, "1000000 !!!!! ... ????"),  # digits and punctuation untouched
    ("sooooo", 0, "sooooo"),                    # 0 = off
])
def test_collapse_repeats(raw, max_repeats, expected):
    assert cleaning.collapse_repeats(raw, max_repeats) == expected
    assert only(max_repeats=max_repeats)(raw) == expected


@pytest.mark.parametrize("max_repeats", [1, 2, 3, 5])
def test_collapse_repeats_long_texts_equal_the_regex_alone(max_repeats):
    """Long texts go through a NumPy pre-check first; it may only skip texts the regex leaves alone."""
    import random
    import re

    def regex_alone(text: str) -> str:
        pattern = r"([a-zA-Z])\1{%d,}" if text.isascii() else r"([^\W\d_])\1{%d,}"
        return re.sub(pattern % max_repeats, r"\1" * max_repeats, text)

    rng = random.Random(max_repeats)
    chars = [*"abAB.!1_ \n", "é", "ß", "²", "٣", "\u0301", "\ud800", "𝔸", "ﬁ", "\x85"]
    for _ in range(300):
        text = "".join(rng.choice(chars[:10] if rng.random() < 0.7 else chars) * rng.choice([1, 1, 1, 2, 3, 6])
                       for _ in range(rng.randrange(200, 500)))
        assert cleaning.collapse_repeats(text, max_repeats) == regex_alone(text)
    pad = "ab " * 200  # long enough for the pre-check; runs at the very start and end
    for text in (pad, "é" + pad, "aaaa" + pad, pad + "zzzz", pad + "...!!!111___", pad + "ééééé",
                 pad + "ÉÉÉ", pad + "\ud800\ud800\ud800"):
        assert cleaning.collapse_repeats(text, max_repeats) == regex_alone(text)


def test_repeats_step_is_absent_when_off():
    assert "repeats" not in dict(TextCleaner(max_repeats=0).steps)
    assert "repeats" in dict(TextCleaner(max_repeats=3).steps)


def test_whitespace():
    assert cleaning.normalize_whitespace("  a \n\t b\u00a0c  ") == "a b c"
    assert only(whitespace=True)("  a \n\t b  ") == "a b"
    assert TextCleaner(**ALL_OFF)("  a \n b  ") == "  a \n b  "


# -- the defaults, as documented ----------------------------------------------------------------
DOCUMENTED_DEFAULTS = {
    "fix_unicode": True, "normalize": "NFKC", "html": True, "control": True, "urls": "replace",
    "emails": "replace", "mentions": "replace", "hashtags": "keep", "emoji": "keep", "numbers": "keep",
    "strip_accents": False, "lowercase": True, "max_repeats": 2, "whitespace": True,
    "url_token": "<url>", "email_token": "<email>", "user_token": "<user>", "hashtag_token": "<hashtag>",
    "number_token": "<number>", "custom_steps": (),
}
STEP_ORDER = ["html", "fix_unicode", "normalize", "strip_accents", "control", "urls", "emails", "mentions",
              "hashtags", "emoji", "numbers", "lowercase", "repeats", "whitespace"]


def test_default_config_is_the_documented_one():
    assert TextCleaner().get_config() == DOCUMENTED_DEFAULTS


def test_steps_run_in_the_documented_order():
    everything = TextCleaner(hashtags="word", emoji="name", numbers="replace", strip_accents=True)
    assert [name for name, _ in everything.steps] == STEP_ORDER
    assert [name for name, _ in TextCleaner().steps] == [
        "html", "fix_unicode", "normalize", "control", "urls", "emails", "mentions",
        "lowercase", "repeats", "whitespace"]


def test_html_entities_are_repaired_like_other_text():
    # html runs first, so an entity that decodes to a curly quote or to mojibake is fixed too
    assert TextCleaner()("doesn&rsquo;t &Atilde;&copy;") == "doesn't é"



def test_defaults_on_a_messy_review(messy_review):
    assert TextCleaner()(messy_review) == (
        "i loved this movie!!! soo good the cast is amazing & the plot doesn't disappoint – 10/10 \U0001F60D "
        "trailer: <url> or mail <email> , cc <user> #mustwatch film great café"
    )


def test_docstring_example():
    assert TextCleaner()("Sooooo GOOD!!! <br />See https://x.io &amp; @bob") == "soo good!!! see <url> & <user>"


@pytest.mark.parametrize("text", ["", "   ", "<br/>", "<p></p>\u200b\n", "\x00\x01"])
def test_text_that_cleans_to_nothing(text):
    assert TextCleaner()(text) == ""


# -- a second pass changes nothing ----------------------------------------------------------------
# Cleaning clean text (a corpus cleaned by `textkit preprocess`, then fed to a pipeline with the
# same cleaner) must not change it. Each case changed on a second pass before.
@pytest.mark.parametrize("options, raw, once", [
    ({}, "@0", "<user>"),                                    # html stripped the cleaner's own "<user>"
    ({}, "see https://x.io, mail a@b.org, @bob", "see <url> , mail <email> , <user>"),
    ({"numbers": "replace", "hashtags": "replace"}, "#tag 42", "<hashtag> <number>"),
    ({"url_token": "<LINK>"}, "http://x.io", "<link>"),        # kept as emitted: lowercased
    ({}, "&amp;amp; &amp;lt;3", "& <3"),                       # html decoded once per pass
    ({}, "&lt;b&gt;bold&lt;/b&gt; news", "bold news"),         # ... and stripped before decoding
    ({}, "<<b>b>x", "x"),
    ({}, "Reuters &lt;TXN.N&gt;", "reuters <txn.n>"),         # stripped as a tag on the second pass
    ({}, "&Amp;", "&"),                                        # lowercase made the entity "&amp;"
    ({}, "\uff1cb\uff1ex", "x"),                               # NFKC made the tag "<b>" of "＜b＞"
    ({}, "\u00c1\u00ae\x86", "\u1b86"),                         # lowercase made mojibake of "Á®†"
    ({}, "\u0130@bob", "i@bob"),                               # lowercase "İ" was no letter: a mention
    ({}, "@a@b", "<user>"),                                    # the second of two glued mentions
    ({"hashtags": "replace"}, "#a#b", "<hashtag>"),
    ({"hashtags": "word"}, "@#bob", "@#bob"),                  # "#bob" -> "bob" made the mention "@bob"
    ({"max_repeats": 3}, "wwww.example.com", "<url>"),         # repeats cut it to the URL "www."
    ({"strip_accents": True}, "\u1e83ww.example.org", "<url>"),  # and strip_accents too ("ẃww.")
])
def test_a_second_pass_changes_nothing(options, raw, once):
    cleaner = TextCleaner(**options)
    assert cleaner(raw) == once
    assert cleaner(once) == once


@pytest.mark.parametrize("options, raw, once", [
    ({}, "wWw.example.com", "<url>"),                          # any case, like "WWW." (was "ww.example.com")
    ({"numbers": "replace"}, "3.5x 1,000th 5@b 3.5", "3.5x 1,000th 5@b <number>"),  # not "<number> .5x"
])
def test_replacements_that_were_partial(options, raw, once):
    assert TextCleaner(**options)(raw) == once


def test_nesting_past_the_bounds_is_the_one_exception():
    """html decodes HTML_ROUNDS levels of escaping per pass, and the cleaner makes at most
    MAX_PASSES passes: text escaped deeper than that (built on purpose) still changes on a
    second pass. The bounds keep cleaning such text linear in its length."""
    levels = cleaning.HTML_ROUNDS * cleaning.MAX_PASSES
    assert TextCleaner()("&" + "amp;" * levels) == "&"
    deeper = TextCleaner()("&" + "amp;" * (levels + 2))
    assert deeper == "&amp;amp;"
    assert TextCleaner()(deeper) == "&"


def test_hostile_nesting_stays_linear():
    start = time.perf_counter()
    assert TextCleaner()("&" + "amp;" * 250_000).startswith("&amp;amp;")  # 1 MB
    assert TextCleaner()("<" * 250_000 + "b>" * 250_000 + "x") .endswith("x")
    assert time.perf_counter() - start < 10  # seconds: linear; quadratic would take hours


def test_largest_max_repeats_is_cheap():
    start = time.perf_counter()
    cleaner = TextCleaner(max_repeats=cleaning.MAX_REPEATS_LIMIT)
    assert cleaner("a" * 5000 + " b") == "a" * 1000 + " b"
    assert cleaner("ok" * 1000) == "ok" * 1000
    assert time.perf_counter() - start < 2
    with pytest.raises(ValueError, match=r"max_repeats must be at most 1000, got 1001"):
        cleaning.collapse_repeats("aaa", 1001)


def test_replacement_tokens_as_emitted_after_repeats():
    cleaner = TextCleaner(url_token="<LOOOOL>")
    assert cleaner("see http://x.io") == "see <lool>"
    assert cleaner.replacement_tokens[0] == "<lool>"
    assert cleaner("see <lool>") == "see <lool>"  # kept by the html step


# -- config round trip, step(), errors ----------------------------------------------------------
def test_config_round_trip_and_equality(messy_review):
    cleaner = TextCleaner(urls="remove", hashtags="word", emoji="name", numbers="replace", strip_accents=True,
                          lowercase=False, max_repeats=3, normalize="NFC", number_token="<num>")
    config = json.loads(json.dumps(cleaner.get_config()))  # JSON-able
    rebuilt = TextCleaner.from_config(config)
    assert rebuilt == cleaner
    assert rebuilt(messy_review) == cleaner(messy_review)
    assert rebuilt != TextCleaner()
    assert TextCleaner.from_config({}) == TextCleaner()
    assert TextCleaner.from_config({"lowercase": False}) == TextCleaner(lowercase=False)


def test_get_config_is_a_copy():
    cleaner = TextCleaner()
    cleaner.get_config()["lowercase"] = False
    assert cleaner("ABC") == "abc"


def test_runs_in_a_spawned_worker_process(messy_review):
    # spawn (macOS/Windows default) sends the cleaner to the worker by pickling it
    cleaner = TextCleaner(emoji="name", numbers="replace")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(cleaner, (messy_review,)) == cleaner(messy_review)


def test_step_returns_one_configured_step():
    cleaner = TextCleaner(numbers="replace", number_token="<num>")
    assert cleaner.step("html")("a<br/>b &amp; c") == "a b & c"
    assert cleaner.step("numbers")("pay 5 now") == "pay  <num>  now"
    with pytest.raises(KeyError, match=r"step 'emoji' is not enabled.*'numbers'"):
        cleaner.step("emoji")


def test_repr_shows_changed_options():
    assert repr(TextCleaner()) == "TextCleaner()"
    assert repr(TextCleaner(urls="keep")) == "TextCleaner(urls='keep')"


@pytest.mark.parametrize("option, value, error, match", [
    ("urls", "mask", ValueError, r"urls= must be one of \('keep', 'remove', 'replace'\), got 'mask'"),
    ("emails", "hide", ValueError, r"emails= .*got 'hide'"),
    ("mentions", True, ValueError, r"mentions= .*got True"),
    ("hashtags", "words", ValueError, r"hashtags= must be one of .*'word'.*got 'words'"),
    ("emoji", "text", ValueError, r"emoji= must be one of \('keep', 'remove', 'name'\), got 'text'"),
    ("numbers", "yes", ValueError, r"numbers= .*got 'yes'"),
    ("normalize", "nfkc", ValueError, r"normalize= must be one of .*'NFKC'.*got 'nfkc'"),
    ("max_repeats", -1, ValueError, r"max_repeats= must be an int from 0 \(off\) to 1000, got -1$"),
    ("max_repeats", 100_000_000, ValueError, r"max_repeats= must be an int from 0 \(off\) to 1000, got 100000000$"),
    ("max_repeats", True, ValueError, r"max_repeats= .*got True"),
    ("max_repeats", 1.5, ValueError, r"max_repeats= .*got 1\.5"),
    ("lowercase", "yes", TypeError, r"lowercase= must be True or False, got 'yes'"),
    ("fix_unicode", 1, TypeError, r"fix_unicode= must be True or False, got 1"),
    ("url_token", "", ValueError, r"url_token= must look like '<url>': '<', a letter, up to 29 letters, "
                                  r"digits or '_', then '>'; got ''$"),
    ("number_token", "<a number>", ValueError, r"number_token= .*got '<a number>'$"),
    ("url_token", "[URL]", ValueError, r"url_token= must look like '<url>'.*got '\[URL\]'$"),
    ("email_token", "<\\1>", ValueError, r"email_token= must look like '<url>'"),
    pytest.param("user_token", "<user" + "x" * 10**6 + ">", ValueError, r"user_token= .*got '<userxxx+$",
                 id="huge-token-cut-short-in-the-message"),
    ("hashtag_token", 5, ValueError, r"hashtag_token= .*got 5$"),
])
def test_bad_option_values_name_the_option(option, value, error, match):
    with pytest.raises(error, match=match):
        TextCleaner(**{option: value})


def test_unknown_option_names():
    with pytest.raises(TypeError, match="lowercse"):
        TextCleaner(lowercse=True)
    with pytest.raises(ValueError, match=r"'lowercse' \(did you mean 'lowercase'\?\)"):
        TextCleaner.from_config({"lowercse": True})
    with pytest.raises(ValueError, match=r"'colour'.*valid options: \["):
        TextCleaner.from_config({"colour": "red"})
    with pytest.raises(TypeError, match="from_config expects a dict, got list"):
        TextCleaner.from_config([("lowercase", True)])
    with pytest.raises(TypeError):
        TextCleaner(True)  # options are keyword-only
