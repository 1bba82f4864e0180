"""Stage 1: messy text -> clean text (``str -> str``).

``TextCleaner`` runs named steps in this fixed order; every step is an option and every
step is a plain module-level function you can call on one string to debug it::

     1. html          drop tags (<br /> -> space), unescape &amp; entities    default on
     2. fix_unicode   repair mojibake with ftfy, straighten curly quotes     default on
     3. normalize     Unicode normalization form                            default "NFKC"
     4. control       remove control / zero-width characters                default on
     5. urls          http(s)://, www.  -> keep | remove | replace "<url>"  default "replace"
     6. emails        a@b.org           -> keep | remove | replace "<email>" default "replace"
     7. mentions      @user             -> keep | remove | replace "<user>"  default "replace"
     8. hashtags      #topic            -> keep | remove | replace "<hashtag>" | "word"
                                         ("word" drops the '#', keeps "topic") default "keep"
     9. emoji         😀               -> keep | remove | "name" (" grinning_face ") default "keep"
    10. numbers       3.5, 1,000        -> keep | remove | replace "<number>" default "keep"
    11. strip_accents café -> cafe                                          default off
    12. lowercase                                                           default on
    13. repeats       "sooooo" -> "soo": a letter repeated more than
                      ``max_repeats`` times is cut to ``max_repeats``        default 2 (0 = off)
    14. whitespace    collapse runs of whitespace to one space, strip ends  default on

HTML comes first so that what its entities decode to (``&rsquo;`` -> ``’``, ``&Atilde;``)
is repaired and normalized like any other text.

Why these defaults: a classifier wants one token per concept, so volatile strings
(URLs, e-mails, user names) become one placeholder; numbers and hashtags carry meaning
(TREC's NUM class, topic tags) and are kept; case is noise for most tasks.
Every step short-circuits on text that cannot contain what it fixes (ASCII text skips
the Unicode steps, text without '<' or '&' skips HTML), which keeps the common case fast.
"""
from __future__ import annotations

import difflib
import html
import inspect
import re
import string
import unicodedata
from functools import lru_cache, partial
from typing import Any, Callable, Sequence

REPLACE_MODES = ("keep", "remove", "replace")
HASHTAG_MODES = (*REPLACE_MODES, "word")
EMOJI_MODES = ("keep", "remove", "name")
NORMAL_FORMS = ("NFC", "NFKC", "NFD", "NFKD")

# A tag's name ends at a space, '/' or '>': "<b>", "<br/>", "<a href=..>", "<o:p>", "</A>",
# "<!-- -->" are tags; "<TXN.N>" (a Reuters ticker), "<a.b@c.org>" and "<3" are text.
# Bounded: a stray '<' never eats a whole document.
# Each pattern starts with a literal '<' so that re scans for it quickly (a lookahead in front,
# like the placeholders' below, made the html step 10x slower); the rest is what follows it.
_TAG_REST = r"(?:[a-zA-Z][a-zA-Z0-9:-]*(?=[\s/>])|[/!?])[^<>]{0,2000}>"
_BLOCK_TAG_REST = r"(?:(?:br|p|div|li|tr|h[1-6])(?=[\s/>])[^<>]{0,2000}>|/(?:p|div|li|tr|h[1-6])\s*>)"
_TAG = re.compile("<" + _TAG_REST)
_BLOCK_TAG = re.compile("<" + _BLOCK_TAG_REST, re.I)
# Controls that are whitespace (\t \n \v \f \r \x1c-\x1f \x85: page breaks in PDF text) are left
# to the whitespace step: deleting them would glue the words on either side together.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u200b\u200e\u200f\u2060\ufeff]")
# A URL ends before trailing punctuation: "see x.io/a, then" keeps its comma.
# "w{3,}": the repeats step may cut "wwww." to "www." (max_repeats >= 3), a URL on a second pass.
_URL = re.compile(r"(?:\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://|\bw{3,}\.)[^\s<>\"]*[^\s<>\".,;:!?)\]}'’]", re.I)
# The lookbehind anchors the local part at the start of its run, so a long run of
# "a.a.a..." without a match is scanned once, not once per start position (quadratic).
# The local part starts with a letter or digit: "a@b.org...c@d.org" keeps its second half, and
# so does its cleaned form "<email> ...c@d.org" (a second pass would take "...c@d.org").
_EMAIL = re.compile(r"(?<![\w.+-])\w[\w.+-]*@[\w-]+(?:\.[\w-]+)+\b")
# "@a@b" and "#a#b" are one mention, one hashtag: replacing only the first would leave the
# second after a space, where a second pass would find it.
_MENTION = re.compile(r"(?<![\w@])@\w+(?:@\w+)*")
# Not after '@': "@#bob" with hashtags="word" would become the mention "@bob" on a second pass.
_HASHTAG = re.compile(r"(?<![\w#&@])#(\w+(?:#\w+)*)")
# A number glued to a word is part of it ("mp3", "3.5x"): the lookahead also stops "3" being
# taken out of "3.5x" or "1,000th". Not before '@' or '#' either: taking "5" out of "5@bob"
# would leave a mention that only a second pass replaces.
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,:]\d+)*(?![\w@#]|[.,:]\d)")
_WHITESPACE = re.compile(r"\s+")
# The shape of a placeholder token (url_token, ...): what every tokenizer keeps whole and no
# other step rewrites; bounded because each replacement writes one.
PLACEHOLDER_MAX_CHARS = 32
_PLACEHOLDER = re.compile(f"<[A-Za-z][A-Za-z0-9_]{{0,{PLACEHOLDER_MAX_CHARS - 3}}}>", re.ASCII)


# -- the steps: plain functions, str -> str ------------------------------------------
# Mojibake leaves a trace that is cheap to look for: a UTF-8 lead byte read as Latin-1 or
# Windows-1252 (Â..ô) followed by a continuation byte read the same way, or surrogates.
# Only such text goes through ftfy's full (and ~100x slower) repair; text whose only flaw
# is stray C1 controls (cp1252 read as Latin-1: "\x96" for "–") needs just that one fix.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6"
    "\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
    "|[\ud800-\udfff]"
)
_C1 = re.compile("[\u0080-\u009f]")
_CURLY_QUOTES = (("\u2018", "'"), ("\u2019", "'"), ("\u201a", "'"), ("\u201b", "'"),
                 ("\u201c", '"'), ("\u201d", '"'), ("\u201e", '"'), ("\u201f", '"'))


def fix_unicode(text: str) -> str:
    """Repair mojibake ("donÃ¢â‚¬â„¢t" -> "don't") with ftfy, then straighten curly quotes.

    Only ftfy's encoding repairs run here; widths, ligatures, controls and line breaks
    are the later steps' job, so every text gets the same treatment.
    """
    if text.isascii():  # pure ASCII cannot be mojibake
        return text
    if _MOJIBAKE.search(text):
        import ftfy  # imported here: ~50 ms, and most texts never need it

        text = ftfy.fix_text(
            text, normalization=None, unescape_html=False, explain=False, uncurl_quotes=False,
            fix_latin_ligatures=False, fix_character_width=False, remove_control_chars=False,
            fix_line_breaks=False, remove_terminal_escapes=False,
        )
    elif _C1.search(text):
        from ftfy.fixes import fix_c1_controls

        text = fix_c1_controls(text)
    for curly, straight in _CURLY_QUOTES:  # `in` + replace beats str.translate ~20x here
        if curly in text:
            text = text.replace(curly, straight)
    return text


def normalize_unicode(text: str, form: str = "NFKC") -> str:
    """Unicode normalization; NFKC folds width variants and ligatures ("ﬁ" -> "fi")."""
    if text.isascii() or unicodedata.is_normalized(form, text):
        return text
    return unicodedata.normalize(form, text)


# Escaped markup is still markup: scraped corpora escape their HTML once or twice
# ("&lt;b&gt;", "&amp;amp;"), and a classifier wants none of it. So tags are stripped and
# entities decoded in rounds until a round changes nothing, which is what makes the step
# idempotent. Each round that changes the text shortens it; the bound keeps text built to
# need more rounds ("&amp;amp;amp;..." nested past it) linear instead of quadratic.
HTML_ROUNDS = 8


@lru_cache(maxsize=64)
def _tag_patterns(keep: tuple[str, ...]) -> tuple[re.Pattern, re.Pattern]:
    """(block tags, all tags), neither matching a string in ``keep`` (case-sensitive)."""
    tags = [token[1:] for token in keep if token.startswith("<")]  # only these can match a tag
    if not tags:
        return _BLOCK_TAG, _TAG
    # case-sensitive even in the block pattern: tokens are matched as emitted (see TextCleaner)
    not_kept = "(?-i:(?!" + "|".join(map(re.escape, tags)) + "))"
    return re.compile("<" + not_kept + _BLOCK_TAG_REST, re.I), re.compile("<" + not_kept + _TAG_REST)


def strip_html(text: str, keep: tuple[str, ...] = ()) -> str:
    """Remove HTML tags (block tags like ``<br />`` become a space) and unescape entities,
    escaped markup included (``&lt;b&gt;`` is stripped, ``&amp;amp;`` becomes ``&``).

    ``keep``: strings that look like tags but are not, such as the cleaner's own
    placeholders (``"<url>"``), so that cleaning clean text changes nothing.
    """
    if "<" not in text and "&" not in text:
        return text
    block_tag, tag = _tag_patterns(tuple(keep))
    for _ in range(HTML_ROUNDS):
        before = text
        if "<" in text:
            text = tag.sub("", block_tag.sub(" ", text))
        if "&" in text:
            text = html.unescape(text)
        if text == before:
            break
    return text


def remove_control(text: str) -> str:
    """Drop control characters (not whitespace ones: tab, newline, form feed) and zero-width marks."""
    return text if text.isprintable() else _CONTROL.sub("", text)


def _substitute(text: str, pattern: re.Pattern, mode: str, token: str) -> str:
    if mode == "keep":
        return text
    # a backslash in the token is text, not a group reference of the replacement template
    return pattern.sub(f" {token.replace(chr(92), chr(92) * 2)} " if mode == "replace" else " ", text)


def replace_urls(text: str, mode: str = "replace", token: str = "<url>") -> str:
    """URLs (``http://…``, ``www.…``) -> kept, removed, or ``token``."""
    # "www." in any case ends in one of these four ("wWw." too); `in` is ~5x faster than a search
    if "://" not in text and "ww." not in text and "WW." not in text and "wW." not in text and "Ww." not in text:
        return text
    return _substitute(text, _URL, mode, token)


def replace_emails(text: str, mode: str = "replace", token: str = "<email>") -> str:
    """E-mail addresses -> kept, removed, or ``token``."""
    return text if "@" not in text else _substitute(text, _EMAIL, mode, token)


def replace_mentions(text: str, mode: str = "replace", token: str = "<user>") -> str:
    """``@user`` mentions -> kept, removed, or ``token``."""
    return text if "@" not in text else _substitute(text, _MENTION, mode, token)


def replace_hashtags(text: str, mode: str = "keep", token: str = "<hashtag>") -> str:
    """``#topic`` -> kept, removed, ``token``, or ``"word"`` (``topic``)."""
    if "#" not in text or mode == "keep":
        return text
    if mode == "word":
        return _HASHTAG.sub(r"\1", text)
    return _substitute(text, _HASHTAG, mode, token)


def replace_emoji(text: str, mode: str = "keep") -> str:
    """Emoji -> kept, removed, or their CLDR name (``"😀"`` -> ``" grinning_face "``)."""
    if mode == "keep" or text.isascii():
        return text
    import emoji  # the emoji package tracks the Unicode emoji list, ZWJ sequences included

    if mode == "remove":
        return emoji.replace_emoji(text, replace=" ")
    return emoji.demojize(text, delimiters=(" ", " "))


def replace_numbers(text: str, mode: str = "keep", token: str = "<number>") -> str:
    """Numbers (``42``, ``-3.5``, ``1,000``, ``10:30``) -> kept, removed, or ``token``."""
    return _substitute(text, _NUMBER, mode, token)


def strip_accents(text: str, form: str = "NFC") -> str:
    """``"café"`` -> ``"cafe"``: decompose, drop combining marks, then compose again
    (``form="NFC"``) or not (``"NFD"``, for text normalized to NFD or NFKD: composing would
    undo that normalization, for Hangul syllables say)."""
    if text.isascii():
        return text
    stripped = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return stripped if form == "NFD" else unicodedata.normalize("NFC", stripped)


def lowercase(text: str) -> str:
    """``str.lower``, except that ``"İ"`` (Turkish dotted capital I) becomes ``"i"``, not
    ``"i"`` + a combining dot: the only letter ``lower`` turns into a non-letter, which would
    cut "İ@bob" or "İ3.5" apart so that a second pass finds a mention or a number."""
    if not text.isascii() and "\u0130" in text:
        text = text.replace("\u0130", "i")
    return text.lower()


MAX_REPEATS_LIMIT = 1000  # a run of more than 1,000 letters is never a word: 0 (off) suits such text


@lru_cache(maxsize=64)
def _repeat_pattern(max_repeats: int, ascii_only: bool) -> re.Pattern:
    letter = "[a-zA-Z]" if ascii_only else r"[^\W\d_]"
    if max_repeats <= 4:
        # "(x)\1\1+" runs ~2x faster in CPython's re than the equivalent "(x)\1{2,}"
        return re.compile(f"({letter})" + r"\1" * (max_repeats - 1) + r"\1+")
    # counted: the pattern stays small however large max_repeats is
    return re.compile(f"({letter})\\1{{{max_repeats},}}")


def collapse_repeats(text: str, max_repeats: int = 2) -> str:
    """Cut a letter repeated more than ``max_repeats`` times: ``"sooooo"`` -> ``"soo"``.

    Only letters: digits ("1000") and punctuation runs ("...") are left alone.
    ``max_repeats=0`` means off, as in ``TextCleaner`` (the pattern below would delete
    every repeated letter).
    """
    if max_repeats < 1:
        return text
    if max_repeats > MAX_REPEATS_LIMIT:
        raise ValueError(f"max_repeats must be at most {MAX_REPEATS_LIMIT}, got {max_repeats!r}")
    ascii_only = text.isascii()
    if len(text) >= _PRECHECK_MIN_CHARS and not _may_repeat(text, max_repeats, ascii_only):
        return text  # most long texts: a few microseconds instead of the regex's ~15 ns a character
    # an ASCII letter class is ~3x faster than Unicode's
    return _repeat_pattern(max_repeats, ascii_only).sub(r"\1" * max_repeats, text)


# From this length on, collapse_repeats first runs a NumPy check whose cost barely grows with
# the text (~4 us); below it the regex alone is cheaper. On IMDB reviews (~1,300 characters)
# the check rules out 97% of the ASCII texts and cuts the step's time ~3x.
_PRECHECK_MIN_CHARS = 400


@lru_cache(maxsize=1)
def _ascii_letters() -> Any:
    """``(128,) bool``: True at the codes of ``[a-zA-Z]``, the ASCII pattern's letters."""
    import numpy as np  # imported here: the cleaning module imports nothing outside the stdlib

    table = np.zeros(128, dtype=bool)
    table[np.frombuffer(string.ascii_letters.encode(), dtype=np.uint8)] = True
    return table


def _may_repeat(text: str, max_repeats: int, ascii_only: bool) -> bool:
    """False only when ``collapse_repeats`` has nothing to cut: no character repeated
    ``min(max_repeats, 2)`` more times in a row (a longer run holds such a one), and for ASCII
    text no such run of a letter. Unicode letters are left to the regex to judge."""
    import numpy as np

    if ascii_only:
        codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)  # (n,)
    else:  # one uint32 per code point; lone surrogates included
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    run = codes[1:] == codes[:-1]  # (n - 1,) code i+1 repeats code i
    if max_repeats >= 2:
        run = run[1:] & run[:-1]  # (n - 2,) codes i, i+1 and i+2 are one character
    if not run.any():
        return False
    return not ascii_only or bool((run & _ascii_letters()[codes[:len(run)]]).any())


def normalize_whitespace(text: str) -> str:
    """Collapse whitespace runs (newlines, tabs, NBSP) to one space and strip the ends."""
    return " ".join(text.split())


# -- the composition -------------------------------------------------------------------
# Passes a TextCleaner makes at most: a second only when a later step made new markup,
# mojibake or compatibility forms for an earlier one (rare: "&Amp;", "＜b＞"); the bound keeps
# text built to need more passes linear.
MAX_PASSES = 3


class UnregisteredName(ValueError):
    """A tokenizer or cleaning step named in a saved pipeline that this process has not
    registered (``register_tokenizer``, ``register_cleaning_step``)."""


# register_cleaning_step's: name -> the user's str -> str function
_CUSTOM_STEPS: dict[str, Callable[[str], str]] = {}
BUILT_IN_STEPS = ("html", "fix_unicode", "normalize", "strip_accents", "control", "urls", "emails", "mentions",
                  "hashtags", "emoji", "numbers", "lowercase", "repeats", "whitespace")


def register_cleaning_step(name: str, step: Callable[[str], str]) -> None:
    """Make ``step`` (``str -> str``) a named cleaning step: ``TextCleaner(custom_steps=[name])``
    runs it after the built-in steps, before whitespace is collapsed, and a pipeline using it
    saves the name and loads in any process that has run the same registration (import the
    module that registers it first). The step should be idempotent, as the built-in ones are
    (cleaning clean text changes nothing); a module-level function also works in the worker
    processes of ``num_proc``. The same name with another function is an error."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][\w.-]{0,63}", name):
        raise ValueError(f"a cleaning step name is a letter then up to 63 letters, digits, '_', '.' or '-', "
                         f"got {name!r}")
    if name in BUILT_IN_STEPS:
        raise ValueError(f"{name!r} is a built-in cleaning step; register yours under another name")
    if not callable(step):
        raise TypeError(f"register_cleaning_step({name!r}, ...) takes a callable str -> str, got {type(step).__name__}")
    if _CUSTOM_STEPS.get(name, step) is not step:
        raise ValueError(f"cleaning step {name!r} is already registered as {_CUSTOM_STEPS[name]!r}")
    _CUSTOM_STEPS[name] = step


def _custom_steps(names: Any) -> tuple[str, ...]:
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise TypeError(f"TextCleaner option custom_steps= must be a list of registered step names, got {names!r}")
    for name in names:
        if name not in _CUSTOM_STEPS:
            raise UnregisteredName(f"TextCleaner option custom_steps=: {name!r} is not a registered cleaning step; "
                                   f"run textkit.register_cleaning_step({name!r}, fn) first (before loading a "
                                   f"pipeline that uses it, too)")
    if len(set(names)) != len(names):
        raise ValueError(f"TextCleaner option custom_steps= names a step twice: {list(names)!r}")
    return tuple(names)


def _choice(name: str, value: Any, choices: tuple) -> Any:
    if value not in choices:
        raise ValueError(f"TextCleaner option {name}= must be one of {choices}, got {value!r}")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"TextCleaner option {name}= must be True or False, got {value!r}")
    return value


class TextCleaner:
    """Composable text cleaning; ``cleaner(text) -> text``. See the module doc for steps.

    >>> TextCleaner()("Sooooo GOOD!!! <br />See https://x.io &amp; @bob")
    'soo good!!! see <url> & <user>'
    >>> TextCleaner(lowercase=False, urls="keep").steps[0][0]
    'html'
    """

    def __init__(
        self,
        *,
        fix_unicode: bool = True,
        normalize: str | None = "NFKC",
        html: bool = True,
        control: bool = True,
        urls: str = "replace",
        emails: str = "replace",
        mentions: str = "replace",
        hashtags: str = "keep",
        emoji: str = "keep",
        numbers: str = "keep",
        strip_accents: bool = False,
        lowercase: bool = True,
        max_repeats: int = 2,
        whitespace: bool = True,
        url_token: str = "<url>",
        email_token: str = "<email>",
        user_token: str = "<user>",
        hashtag_token: str = "<hashtag>",
        number_token: str = "<number>",
        custom_steps: Sequence[str] = (),
    ) -> None:
        if normalize is not None:
            _choice("normalize", normalize, NORMAL_FORMS)
        # Checked here, so that a damaged pipeline.json is refused when it loads: the repeats
        # step compiles a pattern that grows with max_repeats (100,000,000 once took minutes
        # and gigabytes), and a placeholder is written once per URL, e-mail or mention.
        if (not isinstance(max_repeats, int) or isinstance(max_repeats, bool)
                or not 0 <= max_repeats <= MAX_REPEATS_LIMIT):
            raise ValueError(f"TextCleaner option max_repeats= must be an int from 0 (off) to "
                             f"{MAX_REPEATS_LIMIT}, got {max_repeats!r}")
        for name, value in (("url_token", url_token), ("email_token", email_token), ("user_token", user_token),
                            ("hashtag_token", hashtag_token), ("number_token", number_token)):
            if not isinstance(value, str) or not _PLACEHOLDER.fullmatch(value):
                raise ValueError(f"TextCleaner option {name}= must look like '<url>': '<', a letter, up to "
                                 f"{PLACEHOLDER_MAX_CHARS - 3} letters, digits or '_', then '>'; got {value!r:.80}")
        self._config: dict[str, Any] = {
            "fix_unicode": _flag("fix_unicode", fix_unicode),
            "normalize": normalize,
            "html": _flag("html", html),
            "control": _flag("control", control),
            "urls": _choice("urls", urls, REPLACE_MODES),
            "emails": _choice("emails", emails, REPLACE_MODES),
            "mentions": _choice("mentions", mentions, REPLACE_MODES),
            "hashtags": _choice("hashtags", hashtags, HASHTAG_MODES),
            "emoji": _choice("emoji", emoji, EMOJI_MODES),
            "numbers": _choice("numbers", numbers, REPLACE_MODES),
            "strip_accents": _flag("strip_accents", strip_accents),
            "lowercase": _flag("lowercase", lowercase),
            "max_repeats": max_repeats,
            "whitespace": _flag("whitespace", whitespace),
            "url_token": url_token,
            "email_token": email_token,
            "user_token": user_token,
            "hashtag_token": hashtag_token,
            "number_token": number_token,
            "custom_steps": _custom_steps(custom_steps),
        }
        self.steps: list[tuple[str, Callable[[str], str]]] = self._build_steps()
        self._functions = [fn for _, fn in self.steps]
        self._but_whitespace = [fn for name, fn in self.steps if name != "whitespace"]
        self._collapse = normalize_whitespace if whitespace else None
        # The steps that read their input as encoded text (markup and entities, mojibake,
        # compatibility forms, accents). A later step can make new input for them: lowercase
        # turns "&Amp;" into the entity "&amp;" and "Â¢" into the mojibake "â¢", NFKC turns
        # "＜b＞" into a tag, emoji names hold "’" and "é". So the cleaner runs again while
        # one of them would change its output. All four leave ASCII without '<' or '&' alone.
        self._decoders = [fn for name, fn in self.steps
                          if name in ("html", "fix_unicode", "normalize", "strip_accents")]

    def _build_steps(self) -> list[tuple[str, Callable[[str], str]]]:
        c = self._config
        candidates: list[tuple[str, bool, Callable[[str], str]]] = [
            # its own placeholders are not tags: a second pass must not strip "<user>"
            ("html", c["html"], partial(strip_html, keep=tuple(self.replacement_tokens))),
            ("fix_unicode", c["fix_unicode"], fix_unicode),
            ("normalize", c["normalize"] is not None, partial(normalize_unicode, form=c["normalize"])),
            # before the replacements, which would otherwise see "ẃww.x.org" or "#\u0301x" as
            # text and, once the marks are gone, as a URL or a hashtag on a second pass
            ("strip_accents", c["strip_accents"],
             partial(strip_accents, form="NFD" if c["normalize"] in ("NFD", "NFKD") else "NFC")),
            ("control", c["control"], remove_control),
            ("urls", c["urls"] != "keep", partial(replace_urls, mode=c["urls"], token=c["url_token"])),
            ("emails", c["emails"] != "keep", partial(replace_emails, mode=c["emails"], token=c["email_token"])),
            ("mentions", c["mentions"] != "keep",
             partial(replace_mentions, mode=c["mentions"], token=c["user_token"])),
            ("hashtags", c["hashtags"] != "keep",
             partial(replace_hashtags, mode=c["hashtags"], token=c["hashtag_token"])),
            ("emoji", c["emoji"] != "keep", partial(replace_emoji, mode=c["emoji"])),
            ("numbers", c["numbers"] != "keep",
             partial(replace_numbers, mode=c["numbers"], token=c["number_token"])),
            ("lowercase", c["lowercase"], lowercase),
            ("repeats", c["max_repeats"] > 0, partial(collapse_repeats, max_repeats=c["max_repeats"])),
            *((name, True, _CUSTOM_STEPS[name]) for name in c["custom_steps"]),
            ("whitespace", c["whitespace"], normalize_whitespace),
        ]
        return [(name, fn) for name, enabled, fn in candidates if enabled]

    def __call__(self, text: str) -> str:
        for _ in range(MAX_PASSES):
            for fn in self._functions:
                text = fn(text)
            if not self._decodes_again(text):
                break
        return text

    def _decodes_again(self, text: str) -> bool:
        if text.isascii() and "<" not in text and "&" not in text:
            return False  # what nearly every text is: no decoder acts on it, none need run
        return any(fn(text) != text for fn in self._decoders)

    def clean_for_splitting(self, text: str) -> str:
        """``cleaner(text)`` but for the final whitespace collapse: the same tokens for a
        tokenizer that splits on exactly the characters ``str.isspace`` calls whitespace and
        drops them (``regex``, ``whitespace``, ``char``), ~7% faster than cleaner + tokenizer.

        Whitespace is still collapsed before deciding on another pass, as ``__call__`` does:
        the html step's tags have a bounded length, which collapsing can change.
        """
        for _ in range(MAX_PASSES):
            for fn in self._but_whitespace:
                text = fn(text)
            if text.isascii() and "<" not in text and "&" not in text:
                return text  # no other pass, however the whitespace is collapsed
            if self._collapse is not None:
                text = self._collapse(text)
            if not self._decodes_again(text):
                break
        return text

    def step(self, name: str) -> Callable[[str], str]:
        """The configured step ``name`` alone, e.g. ``cleaner.step("html")("a<br/>b")``."""
        for step_name, fn in self.steps:
            if step_name == name:
                return fn
        raise KeyError(f"step {name!r} is not enabled in this TextCleaner; enabled: {[n for n, _ in self.steps]}")

    @property
    def replacement_tokens(self) -> list[str]:
        """Placeholder tokens this cleaner can emit; tokenizers keep each as one token.

        As they appear in the output: the lowercase and repeats steps run after the
        replacements, so ``url_token="<URL>"`` comes out as ``"<url>"``. No other step can
        change a token of the placeholder shape the constructor checks.
        """
        c = self._config
        pairs = (("urls", "url_token"), ("emails", "email_token"), ("mentions", "user_token"),
                 ("hashtags", "hashtag_token"), ("numbers", "number_token"))
        tokens = [c[token] for mode, token in pairs if c[mode] == "replace"]
        if c["lowercase"]:
            tokens = [t.lower() for t in tokens]
        return [collapse_repeats(t, c["max_repeats"]) for t in tokens]

    def get_config(self) -> dict[str, Any]:
        """All options as a JSON-able dict; ``TextCleaner.from_config(c.get_config())`` rebuilds it."""
        return dict(self._config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "TextCleaner":
        if not isinstance(config, dict):
            raise TypeError(f"TextCleaner.from_config expects a dict, got {type(config).__name__}")
        unknown = sorted(set(config) - set(_DEFAULTS))
        if unknown:
            hints = {u: difflib.get_close_matches(u, _DEFAULTS, n=1) for u in unknown}
            hint = "; ".join(f"{u!r} (did you mean {h[0]!r}?)" if h else repr(u) for u, h in hints.items())
            raise ValueError(f"unknown TextCleaner option(s): {hint}; valid options: {sorted(_DEFAULTS)}")
        return cls(**config)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TextCleaner) and self._config == other._config

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._config.items() if _DEFAULTS[k] != v}
        return f"TextCleaner({', '.join(f'{k}={v!r}' for k, v in changed.items())})"


# Option -> default, read off the constructor so the two can never disagree.
_DEFAULTS: dict[str, Any] = {
    name: param.default
    for name, param in inspect.signature(TextCleaner.__init__).parameters.items()
    if param.kind is inspect.Parameter.KEYWORD_ONLY
}
