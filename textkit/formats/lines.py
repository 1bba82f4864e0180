"""Line formats: ``<label> <text>``, fastText's ``__label__<label> <text>``, and SST's labelled
trees (whole sentences, or every labelled phrase)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from .base import (
    FASTTEXT_PREFIX,
    CorpusError,
    ReadOptions,
    Record,
    record_lines,
)

# ---------------------------------------------------------------- line formats


def stream_label_text(path: Path, options: ReadOptions) -> Iterator[Record]:
    """``<label> <text>`` per line; the label is everything before the first whitespace."""
    for number, line in record_lines(path, options):
        yield *parse_label_text_line(line, f"{path}, line {number}"), number


def parse_label_text_line(line: str, where: str) -> tuple[str, str]:
    """One ``<label> <text>`` line -> ``(text, label)``; ``where`` names it in errors.

    ``"0 "`` (a label, its separator, nothing after) is a record with an empty text, as an
    empty csv field is: public corpora hold such lines. ``"0"`` alone could as well be a text
    that lost its label, so it is refused.
    """
    parts = line.split(None, 1)
    if len(parts) == 1 and line.lstrip()[len(parts[0]):]:  # the separator is there, the text is empty
        return "", parts[0]
    if len(parts) < 2:
        raise CorpusError(f"{where}: expected '<label> <text>', got {line[:60]!r} "
                          "(a label or the text is missing; a label then a space is a record with an empty text)")
    return parts[1], parts[0]


def stream_fasttext(path: Path, options: ReadOptions) -> Iterator[Record]:
    """``__label__<label> <text>`` per line. One label per line: multi-label lines raise."""
    for number, line in record_lines(path, options):
        yield *parse_fasttext_line(line, f"{path}, line {number}"), number


def parse_fasttext_line(line: str, where: str, reader: str = "load_corpus") -> tuple[str, str]:
    """One ``__label__<label> <text>`` line -> ``(text, label)``; ``reader`` names the caller
    in the multi-label error."""
    n = len(FASTTEXT_PREFIX)
    head, *rest = line.split(None, 1)
    text = rest[0] if rest else ""
    if not head.startswith(FASTTEXT_PREFIX) or not head[n:]:
        raise CorpusError(f"{where}: no label; fastText lines start with "
                          f"'{FASTTEXT_PREFIX}<label> ', got {line[:60]!r}")
    others = [t for t in text.split() if t.startswith(FASTTEXT_PREFIX)]
    if others:
        raise CorpusError(f"{where}: several labels ({head}, {', '.join(others)}); "
                          f"multi-label corpora are not supported by {reader}")
    return text, head[n:]  # "__label__x" alone: a record with an empty text, as an empty csv field


_TREE_ROOT = re.compile(r"\s*\((\d+)\s")
_TREE_LEAF = re.compile(r"\((\d+) ([^()\s]+)\)")


def stream_ptb_trees(path: Path, options: ReadOptions) -> Iterator[Record]:
    """SST-style labelled trees: the root label and the leaf words joined with a space."""
    for number, line in record_lines(path, options):
        root = _TREE_ROOT.match(line)
        leaves = _TREE_LEAF.findall(line)
        if not root or not leaves or line.count("(") != line.count(")"):
            raise CorpusError(f"{path}, line {number}: not a labelled tree like "
                              f"'(3 (2 The) (2 Rock))', got {line[:60]!r}")
        yield " ".join(word for _, word in leaves), root.group(1), number


_TREE_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def stream_ptb_phrases(path: Path, options: ReadOptions) -> Iterator[Record]:
    """Every labelled node of SST-style trees as ``(phrase, label)``, each distinct phrase once.

    SST labels phrases, not node instances ("the" is one phrase however often it occurs), so a
    phrase is kept at its first occurrence; ``where`` is that tree's line. This is the
    phrase-level training set of Socher et al. 2013 and Kim 2014; test on the sentences.
    """
    seen: set[str] = set()
    for number, line in record_lines(path, options):
        found = []  # this tree's new phrases, yielded once the whole line has parsed
        stack: list[tuple[str, list[str]]] = []  # open nodes: (label, words so far)
        tokens = _TREE_TOKEN.findall(line)
        i, ok = 0, bool(tokens) and tokens[0] == "("
        while ok and i < len(tokens):
            token = tokens[i]
            if token == "(":
                ok = i + 1 < len(tokens) and tokens[i + 1].isdigit()
                if ok:
                    stack.append((tokens[i + 1], []))
                i += 2
                continue
            if token == ")":
                ok = bool(stack) and bool(stack[-1][1])
                if ok:
                    label, words = stack.pop()
                    phrase = " ".join(words)
                    if phrase not in seen:
                        seen.add(phrase)
                        found.append((phrase, label, number))
                    if stack:
                        stack[-1][1].extend(words)
                    else:
                        ok = i == len(tokens) - 1  # the root closes the line
            else:
                ok = bool(stack)
                if ok:
                    stack[-1][1].append(token)
            i += 1
        if not ok or stack:
            raise CorpusError(f"{path}, line {number}: not a labelled tree like "
                              f"'(3 (2 The) (2 Rock))', got {line[:60]!r}")
        yield from found
