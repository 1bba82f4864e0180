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
import unicodedata
from functools import partial
from typing import Any, Callable

REPLACE_MODES = ("keep", "remove", "replace")
HASHTAG_MODES = (*REPLACE_MODES, "word")
EMOJI_MODES = ("keep", "remove", "name")
NORMAL_FORMS = ("NFC", "NFKC", "NFD", "NFKD")

_TAG = re.compile(r"<[a-zA-Z/!?][^<>]{0,2000}>")  # bounded: a stray '<' never eats a whole document
_BLOCK_TAG = re.compile(r"<(?:br|p|div|li|tr|h[1-6])\b[^<>]{0,2000}>|</(?:p|div|li|tr|h[1-6])>", re.I)
# Controls that are whitespace (\t \n \v \f \r \x1c-\x1f \x85: page breaks in PDF text) are left
# to the whitespace step: deleting them would glue the words on either side together.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u200b\u200e\u200f\u2060\ufeff]")
# A URL ends before trailing punctuation: "see x.io/a, then" keeps its comma.
_URL = re.compile(r"(?:\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://|\bwww\.)[^\s<>\"]*[^\s<>\".,;:!?)\]}'’]", re.I)
# The lookbehind anchors the local part at the start of its run, so a long run of
# "a.a.a..." without a match is scanned once, not once per start position (quadratic).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_MENTION = re.compile(r"(?<![\w@])@\w+")
_HASHTAG = re.compile(r"(?<![\w#&])#(\w+)")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,:]\d+)*(?![\w])")
_WHITESPACE = re.compile(r"\s+")


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


def strip_html(text: str) -> str:
    """Remove HTML tags (block tags like ``<br />`` become a space) and unescape entities."""
    if "<" in text:
        text = _TAG.sub("", _BLOCK_TAG.sub(" ", text))
    if "&" in text:
        text = html.unescape(text)
    return text


def remove_control(text: str) -> str:
    """Drop control characters (not whitespace ones: tab, newline, form feed) and zero-width marks."""
    return text if text.isprintable() else _CONTROL.sub("", text)


def _substitute(text: str, pattern: re.Pattern, mode: str, token: str) -> str:
    if mode == "keep":
        return text
    return pattern.sub(f" {token} " if mode == "replace" else " ", text)


def replace_urls(text: str, mode: str = "replace", token: str = "<url>") -> str:
    """URLs (``http://…``, ``www.…``) -> kept, removed, or ``token``."""
    if "://" not in text and "www." not in text and "WWW." not in text and "Www." not in text:
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


def strip_accents(text: str) -> str:
    """``"café"`` -> ``"cafe"``: decompose, then drop combining marks."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def lowercase(text: str) -> str:
    return text.lower()


_REPEAT_PATTERNS: dict[tuple[int, bool], re.Pattern] = {}


def collapse_repeats(text: str, max_repeats: int = 2) -> str:
    """Cut a letter repeated more than ``max_repeats`` times: ``"sooooo"`` -> ``"soo"``.

    Only letters: digits ("1000") and punctuation runs ("...") are left alone.
    ``max_repeats=0`` means off, as in ``TextCleaner`` (the pattern below would delete
    every repeated letter).
    """
    if max_repeats < 1:
        return text
    ascii_only = text.isascii()  # an ASCII letter class is ~3x faster than Unicode's
    pattern = _REPEAT_PATTERNS.get((max_repeats, ascii_only))
    if pattern is None:
        letter = "[a-zA-Z]" if ascii_only else r"[^\W\d_]"
        # "(x)\1\1+" runs ~2x faster in CPython's re than the equivalent "(x)\1{2,}"
        pattern = re.compile(f"({letter})" + r"\1" * (max_repeats - 1) + r"\1+")
        _REPEAT_PATTERNS[max_repeats, ascii_only] = pattern
    return pattern.sub(r"\1" * max_repeats, text)


def normalize_whitespace(text: str) -> str:
    """Collapse whitespace runs (newlines, tabs, NBSP) to one space and strip the ends."""
    return " ".join(text.split())


# -- the composition -------------------------------------------------------------------
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
    ) -> None:
        if normalize is not None:
            _choice("normalize", normalize, NORMAL_FORMS)
        if not isinstance(max_repeats, int) or isinstance(max_repeats, bool) or max_repeats < 0:
            raise ValueError(f"TextCleaner option max_repeats= must be an int >= 0 (0 = off), got {max_repeats!r}")
        for name, value in (("url_token", url_token), ("email_token", email_token), ("user_token", user_token),
                            ("hashtag_token", hashtag_token), ("number_token", number_token)):
            if not isinstance(value, str) or not value.strip() or " " in value:
                raise ValueError(f"TextCleaner option {name}= must be a non-empty string without spaces, got {value!r}")
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
        }
        self.steps: list[tuple[str, Callable[[str], str]]] = self._build_steps()
        self._functions = [fn for _, fn in self.steps]

    def _build_steps(self) -> list[tuple[str, Callable[[str], str]]]:
        c = self._config
        candidates: list[tuple[str, bool, Callable[[str], str]]] = [
            ("html", c["html"], strip_html),
            ("fix_unicode", c["fix_unicode"], fix_unicode),
            ("normalize", c["normalize"] is not None, partial(normalize_unicode, form=c["normalize"])),
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
            ("strip_accents", c["strip_accents"], strip_accents),
            ("lowercase", c["lowercase"], lowercase),
            ("repeats", c["max_repeats"] > 0, partial(collapse_repeats, max_repeats=c["max_repeats"])),
            ("whitespace", c["whitespace"], normalize_whitespace),
        ]
        return [(name, fn) for name, enabled, fn in candidates if enabled]

    def __call__(self, text: str) -> str:
        for fn in self._functions:
            text = fn(text)
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

        As they appear in the output: the lowercase step runs after the replacements, so
        ``url_token="<URL>"`` comes out as ``"<url>"``.
        """
        c = self._config
        pairs = (("urls", "url_token"), ("emails", "email_token"), ("mentions", "user_token"),
                 ("hashtags", "hashtag_token"), ("numbers", "number_token"))
        tokens = [c[token] for mode, token in pairs if c[mode] == "replace"]
        return [t.lower() for t in tokens] if c["lowercase"] else tokens

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
