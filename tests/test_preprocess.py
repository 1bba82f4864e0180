"""The preprocess engine: layout, counts, agreement with load_corpus, streaming, atomic output.

Small files are written in ``tmp_path``; the real corpora come from ``../shared/corpora``
through ``TEXTKIT_DATA`` (skipped when that folder is absent).
"""
import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textkit import TextPipeline
from textkit.corpora import load_corpus
from textkit.formats import CorpusError
from textkit.outputs import atomic_directory
from textkit.preprocess import REASON_EMPTY, _Workers, load_preprocessed, preprocess
from textkit.sources import resolve_inputs

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared corpora not found at {SHARED}")

TRAIN_CSV = (
    "label,text\n"
    "pos,Great movie!\n"
    "neg,\"Awful plot, awful\n acting\"\n"  # a quoted field spanning two lines
    "pos,<br /><br />\n"  # only markup: cleans to nothing -> rejected
    "neg,Bad bad BAD\n"
    "pos,Loved it &amp; the music\n"
)
TEST_CSV = "label,text\npos,great movie\nneg,awful zzz\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def siblings(path: Path) -> list[str]:
    """Everything beside ``path`` whose name starts like it (the output, tmp dirs, old dirs)."""
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))


@pytest.fixture
def tiny(tmp_path):
    return write(tmp_path / "train.csv", TRAIN_CSV), write(tmp_path / "test.csv", TEST_CSV)


# ---------------------------------------------------------------- layout and report

def test_layout_report_and_shards(tiny, tmp_path):
    train, test = tiny
    out = tmp_path / "out"
    report = preprocess([str(train), str(test)], out, num_proc=1)

    assert sorted(p.name for p in out.iterdir()) == [".textkit-output.json", "data", "pipeline.json",
                                                     "rejected.jsonl", "report.json"]
    assert sorted(p.name for p in (out / "data").iterdir()) == ["test-00000-of-00001.parquet",
                                                               "train-00000-of-00001.parquet"]
    assert json.loads((out / "report.json").read_text()) == report
    assert report["labels"] == ["neg", "pos"]
    assert report["inputs"] == {"train": [str(train)], "test": [str(test)]}
    t, s = report["splits"]["train"], report["splits"]["test"]
    assert (t["rows_read"], t["rows_written"], t["rows_rejected"]) == (5, 4, 1)
    assert (s["rows_read"], s["rows_written"], s["rows_rejected"]) == (2, 2, 0)
    assert t["label_counts"] == {"neg": 2, "pos": 2}
    assert s["unk_tokens"] == 1  # "zzz" never appears in train
    assert report["rejected"]["count"] == 1 and report["rejected"]["by_split"] == {"train": 1}
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert rejected == [{"split": "train", "where": f"{train}, row 3 (line 5)", "label": "pos",
                         "reason": REASON_EMPTY, "text": "<br /><br />"}]

    # shards: the columns and types of the contract, ClassLabel names in the metadata
    table = pq.read_table(out / "data" / "train-00000-of-00001.parquet")
    assert table.schema.names == ["text", "label", "ids", "length"]
    assert table.schema.field("ids").type == pa.list_(pa.int64())
    assert table.schema.field("length").type == pa.int64()
    from datasets import ClassLabel, Features
    assert Features.from_arrow_schema(table.schema)["label"] == ClassLabel(names=["neg", "pos"])
    rows = table.to_pylist()
    kept = ["Great movie!", "Awful plot, awful\n acting", "Bad bad BAD", "Loved it &amp; the music"]
    assert [r["text"] for r in rows] == kept and [r["label"] for r in rows] == [1, 0, 0, 1]

    # the ids are exactly what the saved pipeline gives, and that pipeline is TextPipeline's own fit
    pipeline = TextPipeline.load(out / "pipeline.json")
    assert pipeline.vocab == TextPipeline().fit(kept).vocab  # vocabulary from train only
    assert [r["ids"] for r in rows] == pipeline.encode(kept)
    assert [r["length"] for r in rows] == [len(r["ids"]) for r in rows]
    assert report["vocab_size"] == len(pipeline.vocab)
    assert report["tokens"] == t["tokens"] + s["tokens"] == sum(r["length"] for r in rows) + 4


def test_keep_empty_keeps_rows_with_length_zero(tiny, tmp_path):
    report = preprocess([str(p) for p in tiny], tmp_path / "out", keep_empty=True, num_proc=1)
    assert report["splits"]["train"]["rows_written"] == 5 and report["rejected"]["count"] == 0
    assert report["splits"]["train"]["empty_rows"] == 1
    rows = pq.read_table(tmp_path / "out/data/train-00000-of-00001.parquet").to_pylist()
    assert rows[2] == {"text": "<br /><br />", "label": 1, "ids": [], "length": 0}


def test_max_length_cuts_ids_and_is_reported(tmp_path):
    train = write(tmp_path / "train.tsv", "label\ttext\na\tone two three four five\nb\tsix\n")
    report = preprocess([str(train)], tmp_path / "out", num_proc=1,
                        pipeline={"max_length": 2, "truncation": "pre", "tokenizer": "whitespace"})
    rows = pq.read_table(tmp_path / "out/data/train-00000-of-00001.parquet").to_pylist()
    pipeline = TextPipeline.load(tmp_path / "out/pipeline.json")
    assert [pipeline.vocab.decode(r["ids"]) for r in rows] == [["four", "five"], ["six"]]
    assert [r["length"] for r in rows] == [2, 1]
    assert report["splits"]["train"]["truncated_rows"] == 1


def test_hashed_ngrams_stay_out_of_the_vocabulary(tiny, tmp_path):
    preprocess([str(tiny[0])], tmp_path / "out", num_proc=1, pipeline={"ngram_range": (1, 2), "ngram_buckets": 10})
    pipeline = TextPipeline.load(tmp_path / "out/pipeline.json")
    assert not any(" " in token for token in pipeline.vocab.itos)
    rows = pq.read_table(tmp_path / "out/data/train-00000-of-00001.parquet").to_pylist()
    assert max(max(r["ids"]) for r in rows) >= len(pipeline.vocab)  # bigrams in the hash buckets


def test_arrow_output_reads_back_with_datasets(tiny, tmp_path):
    from datasets import Dataset

    report = preprocess([str(p) for p in tiny], tmp_path / "out", output_format="arrow", num_proc=1)
    shard = tmp_path / "out" / report["splits"]["test"]["shards"][0]
    assert shard.suffix == ".arrow"
    ds = Dataset.from_file(str(shard))
    assert ds.features["label"].names == ["neg", "pos"] and ds["text"] == ["great movie", "awful zzz"]
    _, _, splits = load_preprocessed(tmp_path / "out")
    assert splits["test"] == (["great movie", "awful zzz"], ["pos", "neg"])


# ---------------------------------------------------------------- streamed readers agree with load_corpus

FILES = {
    "label-text": ("c.all", "pos Great movie !\nneg Awful plot\r\nneg it's bad\n\n\n"),
    "fasttext": ("c.txt", "__label__pos Great movie !\n__label__neg Awful plot\n__label__neg it's bad\n"),
    "csv": ("c.csv", '\ufefflabel,text\npos,"Great, ""movie"" !"\nneg,"Awful\nplot"\nneg,it\'s bad\n\n'),
    "tsv": ("c.tsv", "label\ttext\npos\tGreat movie !\nneg\tAwful plot\nneg\tit's bad\n"),
    "jsonl": ("c.jsonl", '{"label": "pos", "text": "Great movie !"}\n{"label": "neg", "text": "Awful plot"}\n'
                         '{"label": "neg", "text": null}\n'),
}


@pytest.mark.parametrize("fmt", [*FILES, "parquet"])
def test_rows_and_labels_equal_load_corpus(fmt, tmp_path):
    if fmt == "parquet":
        path = tmp_path / "c.parquet"
        pq.write_table(pa.table({"text": ["Great movie !", "Awful plot", None], "label": [1, 0, 0]}), path)
    else:
        name, content = FILES[fmt]
        path = write(tmp_path / name, content)
    expected = load_corpus(str(path), valid_fraction=0)["train"]
    preprocess([str(path)], tmp_path / "out", keep_empty=True, num_proc=1)
    report, _, splits = load_preprocessed(tmp_path / "out")
    names = expected.features["label"].names
    assert report["labels"] == names
    assert splits["train"] == (expected["text"], [names[i] for i in expected["label"]])


def test_multiprocess_batches_equal_one_process(tmp_path):
    lines = [f"{'pos' if i % 3 else 'neg'} text number {i} with words w{i % 7} and w{i % 5}" for i in range(40)]
    path = write(tmp_path / "train.txt", "\n".join(lines) + "\n")
    one = preprocess([str(path)], tmp_path / "one", num_proc=1, batch_rows=3, shard_size=16)
    two = preprocess([str(path)], tmp_path / "two", num_proc=2, batch_rows=3, shard_size=16)
    assert one["splits"]["train"]["shards"] == two["splits"]["train"]["shards"] == [
        f"data/train-0000{i}-of-00003.parquet" for i in range(3)]
    for shard in one["splits"]["train"]["shards"]:
        assert pq.read_table(tmp_path / "one" / shard).equals(pq.read_table(tmp_path / "two" / shard))
    assert (tmp_path / "one/pipeline.json").read_text() == (tmp_path / "two/pipeline.json").read_text()
    assert two["num_proc"] == 2


def test_workers_keep_a_bounded_number_of_batches_in_flight():
    """Pool.imap would read the whole input ahead of the workers; _Workers reads 2 per process."""
    read = []

    def batches():
        for i in range(50):
            read.append(i)
            yield [(f"text {i}", "a", str(i))]

    workers = _Workers(TextPipeline(num_proc=1), 2)
    try:
        from textkit.preprocess import _count_tokens

        for n, (batch, _) in enumerate(workers.map(_count_tokens, batches())):
            assert len(read) - n <= 2 * 2 + 1  # in flight, plus the one just handed out
        assert n == 49
    finally:
        workers.close()


# ---------------------------------------------------------------- inputs and splits

def test_split_from_prefix_or_file_name(tmp_path):
    a = write(tmp_path / "stsa.binary.dev", "1 good\n0 bad\n")
    b = write(tmp_path / "reviews.all", "1 good\n")
    c = write(tmp_path / "held.all", "0 bad\n")
    sources = resolve_inputs([str(a), str(b), f"test={c}"], format="label-text")
    assert [(s.split, s.name) for s in sources] == [("valid", str(a)), ("train", str(b)), ("test", str(c))]
    with pytest.raises(CorpusError, match=r"unknown split 'tset'.*train=, valid="):
        resolve_inputs([f"tset={c}"])


def test_several_files_of_one_split_are_read_in_order(tmp_path):
    a = write(tmp_path / "a.all", "x first\n")
    b = write(tmp_path / "b.all", "y second\n")
    report = preprocess([f"train={a}", f"train={b}"], tmp_path / "out", num_proc=1)
    assert report["inputs"] == {"train": [str(a), str(b)]}
    assert load_preprocessed(tmp_path / "out")[2]["train"] == (["first", "second"], ["x", "y"])


def test_folder_input_brings_its_own_splits(tmp_path):
    for split, label, name, text in [("train", "pos", "1.txt", "good fun"), ("train", "neg", "2.txt", "bad"),
                                     ("test", "pos", "3.txt", "fun"), ("test", "neg", "4.txt", "so bad")]:
        (tmp_path / "docs" / split / label).mkdir(parents=True, exist_ok=True)
        write(tmp_path / "docs" / split / label / name, text)
    report = preprocess([str(tmp_path / "docs")], tmp_path / "out", num_proc=1)
    assert {s: v["rows_written"] for s, v in report["splits"].items()} == {"train": 2, "test": 2}


def test_no_train_split_is_an_error(tmp_path):
    test = write(tmp_path / "test.all", "pos fine\n")
    with pytest.raises(CorpusError, match="no train split.*train=PATH"):
        preprocess([str(test)], tmp_path / "out")
    assert siblings(tmp_path / "out") == []


@pytest.mark.parametrize("content, message", [
    ("pos fine\n\nneg bad\n", r"b\.all, line 2: blank line"),
    ("pos fine\nneg\n", r"b\.all, line 2: expected '<label> <text>'"),
])
def test_reader_errors_name_the_line(tmp_path, content, message):
    path = write(tmp_path / "b.all", content)
    with pytest.raises(CorpusError, match=message):
        preprocess([str(path)], tmp_path / "out")


def test_undecodable_byte_names_line_and_offset(tmp_path):
    path = tmp_path / "train.all"
    path.write_bytes(b"pos ok\nneg caf\xe9\n")
    with pytest.raises(CorpusError, match=r"train\.all, line 2, byte offset 14: cannot decode b'\\xe9' as utf-8"):
        preprocess([str(path)], tmp_path / "out")
    report = preprocess([str(path)], tmp_path / "out", encoding="latin-1")
    assert load_preprocessed(tmp_path / "out")[2]["train"][0] == ["ok", "café"]
    assert report["splits"]["train"]["rows_written"] == 2


# ---------------------------------------------------------------- atomic output

def test_bad_row_in_second_file_leaves_nothing(tiny, tmp_path):
    train, _ = tiny
    bad = write(tmp_path / "more.csv", "label,text\npos,fine\n,no label here\n")
    out = tmp_path / "nested" / "out"
    with pytest.raises(CorpusError, match=r"more\.csv, row 2 \(line 3\): empty label in column 'label'"):
        preprocess([f"train={train}", f"train={bad}"], out)
    assert not (tmp_path / "nested").exists()  # not even the parent it created


def test_failure_while_writing_shards_leaves_nothing(tiny, tmp_path, monkeypatch):
    from textkit import preprocess as engine

    calls = []
    real_write = engine._ShardWriter.write

    def interrupted(self, table):
        calls.append(self.split)
        if len(calls) == 2:  # the train shard is on disk; the test shard is next
            raise KeyboardInterrupt
        real_write(self, table)

    monkeypatch.setattr(engine._ShardWriter, "write", interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        preprocess([str(p) for p in tiny], out, num_proc=1)
    assert calls == ["train", "test"]
    assert siblings(out) == []


def test_existing_output_is_refused_unless_overwrite(tiny, tmp_path):
    out = tmp_path / "out"
    preprocess([str(tiny[0])], out, num_proc=1)
    with pytest.raises(FileExistsError, match="already exists; pass --overwrite"):
        preprocess([str(tiny[0])], out)
    report = preprocess([str(p) for p in tiny], out, overwrite=True, num_proc=1)
    assert set(report["splits"]) == {"train", "test"} and siblings(out) == ["out"]
    assert (out / "data" / "test-00000-of-00001.parquet").exists()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # the usual permissions, not mkdtemp's 0700


def test_overwrite_never_replaces_a_foreign_directory(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    write(home / "thesis.tex", "years of work")
    with pytest.raises(FileExistsError, match="does not look like textkit output"):
        with atomic_directory(home, overwrite=True):
            pass
    assert (home / "thesis.tex").exists() and siblings(home) == ["home"]


# ---------------------------------------------------------------- real corpora

@needs_shared
def test_real_corpus_mr_counts(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTKIT_DATA", str(SHARED))
    report = preprocess(["mr"], tmp_path / "mr", num_proc=2, shard_size=4000)
    train = report["splits"]["train"]
    assert train["rows_read"] == 10662  # MR: one split, for cross-validation
    assert train["rows_written"] + train["rows_rejected"] == train["rows_read"]
    assert train["label_counts"] == {"negative": 5331, "positive": 5331}
    assert len(train["shards"]) == 3 and report["labels"] == ["negative", "positive"]
    assert report["inputs"] == {"train": ["mr[train]"]}


@needs_shared
def test_real_corpus_file_sst2_dev_by_name(tmp_path):
    """A shared file given by path: its split comes from its name (stsa.binary.dev -> valid)."""
    dev = SHARED / "sst2" / "stsa.binary.dev"
    train = SHARED / "sst2" / "stsa.binary.train"
    report = preprocess([str(train), str(dev)], tmp_path / "sst2", format="label-text", num_proc=1)
    assert report["splits"]["train"]["rows_read"] == 6920
    assert report["splits"]["valid"]["rows_read"] == 872
    assert report["labels"] == ["0", "1"]


# ---------------------------------------------------------------- hostile inputs to the streamed readers

from textkit.formats import ReadOptions  # noqa: E402
from textkit.sources import _streamer  # noqa: E402

MIXED = b"a one\r\nb two\r\nc three\rd four\r\ne five\r\n"  # CRLF with one bare CR: 5 records, not 4
DEEP_JSON = '{"label": "a", "text": "t"}\n{"label": "b", "text": "u", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n"


@pytest.mark.parametrize("name, content, message", [
    ("train.all", MIXED, r"train\.all, line 3: ends with a bare \\r, but line 1 ends with \\n.*mixed line endings"),
    ("train.all", b"a one\rb two\nc three\n", r"train\.all, line 2: ends with \\n, but line 1 ends with a bare \\r"),
    ("train.jsonl", DEEP_JSON.encode(), r"train\.jsonl, line 2: JSON nested too deeply"),
], ids=["crlf-then-cr", "cr-then-lf", "deep-json"])
def test_mixed_line_endings_and_deep_json_stop_the_run_with_one_line(tmp_path, capsys, name, content, message):
    from textkit.cli import main

    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        preprocess([str(path)], tmp_path / "out", num_proc=1)
    assert main(["preprocess", str(path), "--out", str(tmp_path / "out"), "--num-proc", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("textkit: error: ") and "\n" not in err and "Traceback" not in err
    assert siblings(tmp_path / "out") == []


def test_streamed_csv_ends_rows_at_every_line_ending_as_load_corpus(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b'label,text\r\na,x y\rb,"y\rz"\nc,w v\r\n')
    expected = load_corpus(str(path), valid_fraction=0)["train"]
    preprocess([str(path)], tmp_path / "out", num_proc=1)
    texts, labels = load_preprocessed(tmp_path / "out")[2]["train"]
    assert texts == expected["text"] == ["x y", "y\rz", "w v"] and labels == ["a", "b", "c"]


@pytest.mark.parametrize("fmt, name, content, message", [
    ("label-text", "c.all", "a short\nb " + "x" * 100 + "\n", r"c\.all, line 2: longer than 50 characters"),
    ("fasttext", "c.txt", "__label__a " + "x" * 100 + "\n", r"c\.txt, line 1: longer than 50 characters"),
    ("jsonl", "c.jsonl", '{"label": "a", "text": "' + "x" * 100 + '"}\n', r"c\.jsonl, line 1: longer than 50"),
    ("csv", "c.csv", 'label,text\na,"unclosed\n' + "b,x\n" * 30, r"c\.csv, line 2: a row longer than 50"),
    ("tsv", "c.tsv", "label\ttext\na\t" + "x" * 100 + "\n", r"c\.tsv, line 2: longer than 50 characters"),
    ("parquet", "c.parquet", None, r"c\.parquet, row 2: 60 characters, more than max_record_chars=50"),
], ids=["label-text", "fasttext", "jsonl", "csv", "tsv", "parquet"])
def test_streamed_readers_refuse_a_record_over_max_record_chars(tmp_path, fmt, name, content, message):
    path = tmp_path / name
    if content is None:
        pq.write_table(pa.table({"text": ["ok", "z" * 60], "label": ["a", "b"]}), path)
    else:
        write(path, content)
    if fmt != "csv":  # (the csv's quote is left open: with room, it ends in a parse error)
        assert list(_streamer(path, fmt, ReadOptions(max_record_chars=200))())
    with pytest.raises(CorpusError, match=message + r".*max_record_chars"):
        list(_streamer(path, fmt, ReadOptions(max_record_chars=50))())


def test_progress_without_a_terminal_is_log_lines(tmp_path, monkeypatch, capsys):
    """A long preprocess in a batch job printed nothing until it ended."""
    from textkit import progress

    monkeypatch.setattr(progress, "LOG_EVERY", 0.0)  # a line per update, for the test
    path = tmp_path / "c.csv"
    path.write_text("label,text\n" + "".join(f"{'ab'[i % 2]},word{i} film\n" for i in range(50)), encoding="utf-8")
    preprocess([str(path)], tmp_path / "out", num_proc=1)  # progress=None, and pytest's stderr is no terminal
    lines = capsys.readouterr().err.splitlines()
    assert any(re.fullmatch(r"preprocess pass 1/2 train: 50 rows \(\d+ s, [\d,]+ rows/s\)", line) for line in lines), lines
    assert any(line.startswith("preprocess pass 2/2 train: 50 rows") for line in lines), lines
    preprocess([str(path)], tmp_path / "quiet", num_proc=1, progress=False)
    assert capsys.readouterr().err == ""
