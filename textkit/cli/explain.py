"""``textkit explain``: each token's score for a saved model's prediction (JSON lines, HTML)."""
from __future__ import annotations

import argparse
import json
import sys
from itertools import chain
from pathlib import Path

from .common import free_threads, model_directory
from .predict import text_sources


def cmd_explain(args: argparse.Namespace) -> int:
    sources = text_sources(args)
    if args.html and Path(args.html).is_dir():
        raise IsADirectoryError(f"--html {args.html}: is a folder; give the file to write")
    model_dir = model_directory(args.model_dir)
    with free_threads(args):
        from .. import TextClassifier
        from ..explain import to_html
        from ..fileio import atomic_write

        clf = TextClassifier.load(model_dir, device=args.device)
        target = _target(args.target, clf.classes_)
        inputs = list(chain.from_iterable(sources))
        where = [{}] * len(inputs)
        if clf.reads_pages:  # a grid model: the inputs are page files, each holding pages
            from ..documents import read_document

            pages = [(path, page) for path in inputs for page in read_document(path)]
            inputs, where = [page for _, page in pages], [{"file": path, "page": page.number} for path, page in pages]
        found = clf.explain(inputs, target=target)
        for explanation, place in zip(found, where):
            sys.stdout.write(json.dumps({**place, **explanation.to_dict()}, ensure_ascii=False) + "\n")
        if args.html:
            page = to_html(found, title=f"textkit explain {args.model_dir}")
            atomic_write(Path(args.html), lambda f: f.write(page), mode="w", encoding="utf-8")
            print(f"wrote {args.html}", file=sys.stderr)
    return 0


def _target(given: str | None, classes: list):
    """--target as the classifier's class: the string, or the int a class of ints is."""
    if given is None:
        return None
    by_name = {str(c): c for c in classes}
    if given not in by_name:
        raise ValueError(f"--target {given!r} is not one of the model's classes: {', '.join(by_name)}")
    return by_name[given]
