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
    batch = rows.batch(np.arange(48))  # rows of all three shards in one batch: read and put in place
    got = [batch.ids[i, :n].tolist() for i, n in enumerate(batch.lengths.tolist())]
    assert got == expected
    assert [report["labels"][i] for i in labels] == [l for l, _ in ROWS[:48]]
    assert batch.labels.tolist() == labels.tolist()
    test_rows, _ = splits["test"]
    assert [test_rows.flat[s:s + n].tolist() for s, n in zip(test_rows.starts, test_rows.lengths)] == \
        pipeline.encode([t for _, t in ROWS[48:]])


def test_training_rows_stay_in_their_shards(prep, monkeypatch):
    from textkit import shards

    reads = []
    real = shards._read_ids
    monkeypatch.setattr(shards, "_read_ids", lambda path, *a: reads.append(path.name) or real(path, *a))
    _, _, splits = read_encoded(prep)
    assert reads == ["test-00000-of-00001.parquet"]  # the train split's ids are not read at open
    rows = splits["train"][0]
    sampler = rows.sampler(rows.lengths, 4, seed=1)
    seen = []
    for epoch in (1, 2):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert sorted(i for b in batches for i in b) == list(range(48))  # every row once an epoch
        assert all(len(set(rows.shard_of[b].tolist())) == 1 for b in batches)  # each batch from one shard
        reads.clear()
        for b in batches:
            rows.batch(b)
        assert len(reads) == 3  # each shard read once an epoch, one at a time
        seen.append(batches)
    assert seen[0] != seen[1]  # another order each epoch, the same for the same (seed, epoch)
    sampler.set_epoch(1)
    assert list(sampler) == seen[0]
    shares = [list(rows.sampler(rows.lengths, 4, seed=1, rank=r, world=2)) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 6 and not set(map(tuple, shares[0])) & set(map(tuple, shares[1]))


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
