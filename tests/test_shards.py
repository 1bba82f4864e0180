"""Training data straight from a preprocess output: ids and labels into arrays, damage named."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from textkit import TextClassifier
from textkit.preprocess import preprocess
from textkit.shards import read_encoded

ROWS = [("pos" if i % 2 else "neg", f"a {'great fun' if i % 2 else 'dull awful'} film number {i}") for i in range(60)]


@pytest.fixture(scope="module")
def prep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shards")
    (root / "train.csv").write_text("label,text\n" + "".join(f"{l},{t}\n" for l, t in ROWS[:48]), encoding="utf-8")
    (root / "test.csv").write_text("label,text\n" + "".join(f"{l},{t}\n" for l, t in ROWS[48:]), encoding="utf-8")
    preprocess([f"train={root / 'train.csv'}", f"test={root / 'test.csv'}"], root / "prep", num_proc=1,
               shard_size=20, progress=False)
    return root / "prep"


def test_the_ids_are_the_pipelines_encoding_of_the_texts(prep):
    report, pipeline, splits = read_encoded(prep)
    rows, labels = splits["train"]
    assert len(rows) == 48 and len(json.loads((prep / "report.json").read_text())["splits"]["train"]["shards"]) == 3
    expected = pipeline.encode([t for _, t in ROWS[:48]])
    got = [rows.flat[s:s + n].tolist() for s, n in zip(rows.starts, rows.lengths)]
    assert got == expected
    assert [report["labels"][i] for i in labels] == [l for l, _ in ROWS[:48]]
    assert rows.flat.dtype == np.int64


def test_fit_encoded_trains_with_the_pipeline_as_it_is(prep):
    report, pipeline, splits = read_encoded(prep)
    clf = TextClassifier("bow", epochs=15, lr=0.05, progress=False, device="cpu")
    clf.fit_encoded(pipeline, splits["train"], classes=report["labels"])
    assert clf.pipeline_.vocab == pipeline.vocab and clf.sizes_ == {"train": 43, "valid": 5}
    assert clf.evaluate_encoded(*splits["test"])["accuracy"] == 1.0
    assert clf.predict(["a great fun film", "a dull awful film"]) == ["pos", "neg"]


def test_damage_is_named(prep, tmp_path):
    import shutil

    copy = Path(shutil.copytree(prep, tmp_path / "p"))
    shard = sorted((copy / "data").iterdir())[0]
    shard.write_bytes(shard.read_bytes()[:100])  # truncated
    with pytest.raises(ValueError, match=rf"{shard.name}: cannot read the shard .*truncated or not a preprocess shard"):
        read_encoded(copy)
    shard.unlink()
    with pytest.raises(FileNotFoundError, match=rf"{shard.name} is listed in .*report\.json but does not exist"):
        read_encoded(copy)
    with pytest.raises(FileNotFoundError, match=r"is not a finished `textkit preprocess` output"):
        read_encoded(tmp_path)


def test_a_shard_from_another_run_is_refused(prep, tmp_path):
    import shutil

    copy = Path(shutil.copytree(prep, tmp_path / "p"))
    data = json.loads((copy / "pipeline.json").read_text())
    data["vocab"]["tokens"] = data["vocab"]["tokens"][:5]  # a smaller vocabulary than the ids use
    (copy / "pipeline.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"holds ids up to \d+, but pipeline\.json has 5 rows: the shard is from "
                                         r"another preprocess run"):
        read_encoded(copy)
