"""One set of records per file, whoever reads it: ``load_corpus`` and ``textkit preprocess`` must
give the same texts and labels, in the same order, for every format (issue #16's single-reader
equivalence; the readers share their parsers, and this holds them to it)."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textkit.corpora import load_corpus
from textkit.preprocess import load_preprocessed, preprocess

# messy on purpose: quotes, commas, tabs inside csv fields, unicode, an empty text, repeated labels
RECORDS = [("pos", "A great film, \"truly\" fun"), ("neg", "dull\tand slow"), ("pos", "café naïve ☺ <b>bold</b>"),
           ("neg", "worst; ever"), ("0", ""), ("pos", "line one then more"), ("neg", "x" * 300)]


def write(fmt: str, root: Path) -> tuple[Path, dict]:
    """``RECORDS`` as one file of ``fmt``; the load options it needs."""
    if fmt == "label-text":
        path = root / "c.txt"
        path.write_text("".join(f"{label} {text}\n" for label, text in RECORDS), encoding="utf-8")
    elif fmt == "fasttext":
        path = root / "c.txt"
        path.write_text("".join(f"__label__{label} {text}\n" for label, text in RECORDS), encoding="utf-8")
    elif fmt == "csv":
        import csv

        path = root / "c.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["label", "text"])
            writer.writerows(RECORDS)
    elif fmt == "tsv":
        path = root / "c.tsv"
        path.write_text("label\ttext\n" + "".join(f"{label}\t{text.replace(chr(9), ' ')}\n" for label, text in RECORDS),
                        encoding="utf-8")
    elif fmt == "jsonl":
        path = root / "c.jsonl"
        path.write_text("".join(json.dumps({"label": label, "text": text}) + "\n" for label, text in RECORDS),
                        encoding="utf-8")
    elif fmt == "parquet":
        path = root / "c.parquet"
        pq.write_table(pa.table({"label": [r[0] for r in RECORDS], "text": [r[1] for r in RECORDS]}), path)
    return path, {"format": "fasttext"} if fmt == "fasttext" else {}


# Not folders, tar or zip: preprocess reads those through load_corpus itself, so comparing them
# could not fail.
@pytest.mark.parametrize("fmt", ["label-text", "fasttext", "csv", "tsv", "jsonl", "parquet"])
def test_load_corpus_and_preprocess_read_the_same_records(fmt, tmp_path):
    path, options = write(fmt, tmp_path)
    split = load_corpus({"train": path}, valid_fraction=0, **options)["train"]
    names = split.features["label"].names
    loaded = [(names[y], t) for t, y in zip(split["text"], split["label"])]
    preprocess([f"train={path}"], tmp_path / "out", num_proc=1, keep_empty=True, progress=False, **options)
    texts, labels = load_preprocessed(tmp_path / "out")[2]["train"]
    assert list(zip(labels, texts)) == loaded
    assert len(loaded) == len(RECORDS)
