"""``textkit`` end to end: every subcommand's happy path, --help, and one-line errors (exit 2).

Most tests call ``main([...])`` in this process (fast); two run ``python -m textkit`` for real
exit codes and stderr. Tiny corpora are written in ``tmp_path``; the real ones come from
``../shared/corpora`` through ``TEXTKIT_DATA``. Models are ``bow`` with one or two epochs.
"""
import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from textkit import TextClassifier
from textkit.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "corpora"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared corpora not found at {SHARED}")
COMMANDS = ["quickstart", "corpora", "preprocess", "train", "evaluate", "predict", "ocr"]
FAST = ["--model", "bow", "--epochs", "2", "--device", "cpu", "--threads", "1", "--no-progress"]

GOOD = ["great", "loved", "wonderful", "fun", "superb", "enjoyable", "brilliant", "charming"]
BAD = ["awful", "boring", "terrible", "dull", "hated", "worst", "tedious", "clumsy"]


def corpus_rows(n: int, offset: int = 0) -> list[tuple[str, str]]:
    """``n`` (label, text) rows, two separable classes, alternating."""
    rows = []
    for i in range(offset, offset + n):
        words = GOOD if i % 2 else BAD
        rows.append(("pos" if i % 2 else "neg", f"a {words[i % 8]} and {words[(i * 3 + 1) % 8]} film number {i}"))
    return rows


def write_csv(path: Path, rows, header: str = "label,text") -> Path:
    path.write_text(header + "\n" + "".join(f"{label},{text}\n" for label, text in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("files")
    return {"train": write_csv(root / "train.csv", corpus_rows(40)),
            "test": write_csv(root / "test.csv", corpus_rows(10, offset=40))}


@pytest.fixture(scope="module")
def trained(files, tmp_path_factory) -> Path:
    """One `textkit train` run on the tiny files, shared by the evaluate/predict tests."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), *FAST, "--out", str(out)]) == 0
    return out


@pytest.fixture
def shared(monkeypatch):
    if not SHARED.is_dir():
        pytest.skip(f"shared corpora not found at {SHARED}")
    monkeypatch.setenv("TEXTKIT_DATA", str(SHARED))


def error_line(capsys) -> str:
    """The whole stderr, which must be exactly one `textkit: error:` line."""
    err = capsys.readouterr().err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("textkit: error: "), err
    return lines[0]


# ---------------------------------------------------------------- help

@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_exits_zero(command, capsys):
    assert main([command, "--help"] if command else ["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: textkit{' ' + command if command else ''}")


def test_usage_error_is_one_line(capsys):
    assert main(["train", "--corpus", "trec", "--out", "x", "--model", "transformer"]) == 2
    assert "invalid choice: 'transformer'" in error_line(capsys)
    assert main([]) == 2
    assert "required: COMMAND" in error_line(capsys)


# ---------------------------------------------------------------- corpora

def test_corpora_table_and_json(shared, capsys):
    assert main(["corpora"]) == 0
    out = capsys.readouterr().out
    table = [line.split() for line in out.splitlines()[1:] if line.strip() and not line.startswith("$")]
    rows = {cells[0]: cells[2] for cells in table}
    assert rows["trec"] == rows["mr"] == "TEXTKIT_DATA" and rows["cr"] == "missing"
    assert f"$TEXTKIT_DATA = {SHARED}" in out
    assert main(["corpora", "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["ag_news"]["missing_files"] == ["train.csv"]


def test_corpora_without_data_dir_finds_bundled(monkeypatch, capsys):
    monkeypatch.delenv("TEXTKIT_DATA", raising=False)
    assert main(["corpora", "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["trec"]["found"] == entries["sst2"]["found"] == "bundled"


# ---------------------------------------------------------------- quickstart

def test_quickstart_shows_real_shapes_and_the_published_number(monkeypatch, capsys):
    import torch

    threads_before = torch.get_num_threads()
    monkeypatch.delenv("TEXTKIT_DATA", raising=False)  # the bundled TREC, no network
    assert main(["quickstart", "--model", "bow", "--epochs", "1", "--device", "cpu", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "train 4,907 / valid 545" in out and "test 500" in out
    assert "clean     \"soo... what's the fee to call <url> from paris & rome??? " in out
    assert "ids      (4, 13) torch.int64" in out and "lengths  (4,) torch.int64" in out
    assert "convs.0           Conv1d        (4, 128, 13) -> (4, 100, 11)" in out  # a real forward pass
    assert "rnn               LSTM          packed(" in out
    assert out.count("= logits                        (4, 6)") == 3
    # the same number format as train and evaluate print (it was 87.4 here, 0.8740 there)
    assert re.search(r"test \(500 questions\): accuracy 0\.\d{4}, macro-F1 0\.\d{4}", out)
    assert "published: CNN-rand accuracy 0.912, from Yoon Kim. 2014." in out
    assert "reproduce: textkit quickstart --model bow --epochs 1 --seed 0 --members 1;" in out
    assert re.search(r"\ndone in \d+ s \(since the command started\)\n$", out)
    import torch
    assert torch.get_num_threads() == threads_before  # the free cores, for the command only


@pytest.mark.slow
def test_quickstart_default_run_is_about_a_minute(monkeypatch, capsys):
    import time

    started = time.perf_counter()
    assert main(["quickstart", "--no-progress"]) == 0
    assert time.perf_counter() - started < 120
    assert "test (500 questions): accuracy" in capsys.readouterr().out


# ---------------------------------------------------------------- preprocess

def test_preprocess_files(files, tmp_path, capsys):
    out = tmp_path / "prep"
    assert main(["preprocess", str(files["train"]), str(files["test"]), "--out", str(out), "--max-length", "5",
                 "--ngram-range", "1", "2", "--num-proc", "2", "--shard-size", "16"]) == 0
    printed = capsys.readouterr().out
    assert "train         40        40         0" in printed and "wrote" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["splits"]["train"]["shards"] == [f"data/train-0000{i}-of-00003.parquet" for i in range(3)]
    assert report["splits"]["train"]["truncated_rows"] == 40
    pipeline = json.loads((out / "pipeline.json").read_text())
    assert pipeline["ngrams"]["range"] == [1, 2] and pipeline["padding"]["max_length"] == 5


def test_preprocess_real_corpus(shared, tmp_path, capsys):
    assert main(["preprocess", "trec", "--out", str(tmp_path / "trec")]) == 0
    report = json.loads((tmp_path / "trec" / "report.json").read_text())
    assert report["inputs"] == {"train": ["trec[train]"], "test": ["trec[test]"]}
    assert {s: v["rows_read"] for s, v in report["splits"].items()} == {"train": 5452, "test": 500}
    assert report["labels"] == ["DESC", "ENTY", "ABBR", "HUM", "LOC", "NUM"]  # the card's order


def test_preprocess_refuses_existing_output(files, tmp_path, capsys):
    out = tmp_path / "prep"
    out.mkdir()
    assert main(["preprocess", str(files["train"]), "--out", str(out)]) == 2
    assert "already exists; pass --overwrite" in error_line(capsys)
    # a file where --out needs a folder: refused before any work, for every command that writes
    (tmp_path / "afile").write_text("")
    for command in (["preprocess", str(files["train"])], ["train", "--train", str(files["train"]), *FAST]):
        assert main([*command, "--out", str(tmp_path / "afile" / "sub")]) == 2
        assert error_line(capsys).endswith(f"--out {tmp_path / 'afile' / 'sub'}: {tmp_path / 'afile'} is a file, "
                                           f"not a folder; choose another --out")


# ---------------------------------------------------------------- train

def test_train_on_files_writes_metrics_and_model(trained, capsys):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert 0 <= metrics["accuracy"] <= 1 and 0 <= metrics["macro_f1"] <= 1
    assert metrics["evaluated_on"] == "test (10 texts)" and metrics["labels"] == ["neg", "pos"]
    assert metrics["sizes"] == {"train": 36, "valid": 4, "test": 10} and metrics["seed"] == 0  # 10% held out
    assert metrics["command"].startswith("textkit train --train ")
    assert sorted(p.name for p in (trained / "model").iterdir()) == ["config.json", "model.safetensors",
                                                                    "pipeline.json"]
    assert sorted(p.name for p in trained.parent.iterdir()) == ["tiny"]  # no tmp dir left


def test_train_cross_validation(files, tmp_path, capsys):
    out = tmp_path / "cv"
    assert main(["train", "--train", str(files["train"]), "--cv", "2", *FAST, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    cv = metrics["cv"]
    assert cv["folds"] == 2 and len(cv["accuracy"]["per_fold"]) == 2 and len(cv["macro_f1"]["per_fold"]) == 2
    for key in ("accuracy", "macro_f1", "micro_f1", "weighted_f1"):  # every score evaluate gives
        values = cv[key]["per_fold"]
        assert cv[key]["mean"] == pytest.approx(sum(values) / 2)
        assert cv[key]["sd"] == pytest.approx(abs(values[0] - values[1]) / 2 ** 0.5)
    for key in ("accuracy", "macro_f1"):
        assert metrics[key] == cv[key]["mean"]  # no test file: the CV mean is the score
    assert "cross-validation" in metrics["evaluated_on"]
    assert "cv (2 folds): accuracy" in capsys.readouterr().out
    assert (out / "model" / "config.json").exists()


def test_train_from_preprocessed_ids_with_its_pipeline(files, tmp_path, capsys):
    prep = tmp_path / "prep"
    assert main(["preprocess", f"train={files['train']}", f"test={files['test']}", "--out", str(prep),
                 "--min-freq", "2"]) == 0
    out = tmp_path / "run"
    assert main(["train", "--data", str(prep), *FAST, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sizes"] == {"train": 36, "valid": 4, "test": 10}
    saved = json.loads((out / "model" / "pipeline.json").read_text())
    prep_pipeline = json.loads((prep / "pipeline.json").read_text())
    assert saved["vocab"] == prep_pipeline["vocab"]  # preprocess's vocabulary as it is: no refit
    assert saved["vocab_options"]["min_freq"] == 2
    assert main(["predict", str(out), "a superb and charming film"]) == 0  # raw text goes through that pipeline
    capsys.readouterr()
    assert main(["train", "--data", str(prep), "--max-length", "9", "--out", str(tmp_path / "x")]) == 2
    assert "--max-length cannot be used with --data" in error_line(capsys)
    assert main(["train", "--data", str(prep), "--cv", "3", "--out", str(tmp_path / "x")]) == 2
    assert "--cv with --data is not supported yet" in error_line(capsys)


def test_train_with_a_recipe_file_and_flags_over_it(files, tmp_path, capsys):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"pipeline": {"ngram_range": [1, 2]},
                                  "model_config": {"embed_dim": 8, "pooling": "sqrt", "sparse": True},
                                  "train": {"optimizer": "adamw", "lr": 0.01, "epochs": 3}}))
    out = tmp_path / "run"
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), "--model", "bow",
                 "--recipe", str(recipe), "--epochs", "2", "--members", "2", "--device", "cpu", "--no-progress",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model_config"] == {"embed_dim": 8, "pooling": "sqrt", "sparse": True, "members": 2}
    assert "model: bow (an average of 2: --members), recipe 'default' (textkit.recipes)" in capsys.readouterr().out
    assert metrics["train_options"]["lr"] == 0.01 and metrics["train_options"]["epochs"] == 2  # the flag wins
    assert len(metrics["history"]) <= 2
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["model"]["pooling"] == "sqrt" and config["model"]["sparse"] is True and config["model"]["members"] == 2
    assert len(TextClassifier.load(out / "model").model_.members) == 2
    assert json.loads((out / "model" / "pipeline.json").read_text())["ngrams"]["range"] == [1, 2]


@pytest.mark.parametrize("content, message", [
    ('{"train": {"lr": 0.1},}', r"recipe\.json, line 1, column 23: not JSON"),
    ('[1, 2]', r"recipe\.json: expected an object with .* got a JSON list"),
    ('{"model": {}}', r"recipe\.json: 'model' is not one of \('pipeline', 'model_config', 'train'\)"),
    ('{"model_config": {"embed_dimm": 4}}', r"embed_dimm"),
])
def test_train_bad_recipe_is_one_line_and_writes_nothing(files, tmp_path, capsys, content, message):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(content)
    out = tmp_path / "run"
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), "--model", "bow",
                 "--recipe", str(recipe), "--out", str(out)]) == 2
    assert re.search(message, error_line(capsys))
    assert not out.exists()


def test_train_on_real_corpus(shared, tmp_path, capsys):
    out = tmp_path / "trec"
    assert main(["train", "--corpus", "trec", "--model", "bow", "--epochs", "2", "--device", "cpu", "--threads", "1",
                 "--no-progress", "--max-length", "20", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sizes"] == {"train": 4907, "valid": 545, "test": 500}
    assert metrics["accuracy"] > 0.4 and len(metrics["confusion_matrix"]) == 6  # majority class: 0.276


def test_train_without_test_data_says_how(shared, tmp_path, capsys):
    assert main(["train", "--corpus", "mr", "--model", "bow", "--out", str(tmp_path / "mr")]) == 2
    assert "no test data in corpus 'mr': pass --cv K" in error_line(capsys)
    assert not (tmp_path / "mr").exists()


# ---------------------------------------------------------------- evaluate

def test_evaluate_writes_metrics_table_and_png(trained, files, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", str(trained), "--test", str(files["test"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "precision    recall        f1   support" in printed
    assert printed.count("\nneg ") == printed.count("\npos ") == 1 and "macro avg" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["per_class"]["support"] == [5, 5]
    assert (out / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_without_matplotlib_still_writes_json(trained, files, tmp_path, monkeypatch, capsys):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    out = tmp_path / "eval"
    assert main(["evaluate", str(trained / "model"), "--test", str(files["test"]), "--out", str(out)]) == 0
    assert "pip install 'textkit[plot]'" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [".textkit-output.json", "metrics.json"]


def test_evaluate_unknown_labels_is_an_error(trained, tmp_path, capsys):
    other = write_csv(tmp_path / "other.csv", [("meh", "a so-so film")])
    assert main(["evaluate", str(trained), "--test", str(other), "--out", str(tmp_path / "e")]) == 2
    assert "record 1: label 'meh' never occurs in the classes the model" in error_line(capsys)
    assert not (tmp_path / "e").exists()


def test_evaluate_with_many_classes_stays_readable_and_small(tmp_path, capsys):
    """2,000 classes: the table shows the 20 worst and the top confusions, metrics.json holds no
    2,000 x 2,000 matrix, and the PNG is a bar chart of the most frequent confusions (a heatmap of
    that size ran matplotlib out of memory)."""
    rows = [(f"c{i % 2000}", f"w{i % 2000} w{(i * 7) % 2000}") for i in range(4000)]
    train = write_csv(tmp_path / "train.csv", rows)
    run, out = tmp_path / "run", tmp_path / "eval"
    assert main(["train", "--train", str(train), "--test", str(train), "--model", "bow", "--epochs", "1",
                 "--device", "cpu", "--threads", "1", "--no-progress", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--test", str(train), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2,000 classes: the 20 with the lowest F1 below, every class in metrics.json" in printed
    assert "most frequent confusions (true -> predicted: texts)" in printed and len(printed.splitlines()) < 40
    saved = json.loads((out / "metrics.json").read_text())
    assert "confusion_matrix" not in saved and len(saved["per_class"]["f1"]) == 2000
    assert (out / "metrics.json").stat().st_size < 1_000_000
    assert (out / "confusion_matrix.png").stat().st_size < 200_000


# ---------------------------------------------------------------- predict

def predictions(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_predict_from_arguments_file_and_stdin(trained, tmp_path, monkeypatch, capsys):
    assert main(["predict", str(trained), "a wonderful superb film", "an awful boring film"]) == 0
    got = predictions(capsys)
    assert [r["text"] for r in got] == ["a wonderful superb film", "an awful boring film"]
    assert {r["label"] for r in got} <= {"neg", "pos"} and all(set(r) == {"text", "label"} for r in got)

    texts = tmp_path / "texts.txt"
    texts.write_text("great fun\r\n\nterrible\n", encoding="utf-8")
    assert main(["predict", str(trained), "--file", str(texts), "--proba", "--batch-size", "2"]) == 0
    got = predictions(capsys)
    assert [r["text"] for r in got] == ["great fun", "", "terrible"]  # one output line per input line
    for r in got:
        assert set(r["probabilities"]) == {"neg", "pos"}
        assert sum(r["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        assert r["label"] == max(r["probabilities"], key=r["probabilities"].get)

    monkeypatch.setattr(sys, "stdin", io.StringIO("loved it\nhated it\n"))
    assert main(["predict", str(trained)]) == 0
    assert [r["text"] for r in predictions(capsys)] == ["loved it", "hated it"]


def test_predict_errors(trained, tmp_path, capsys):
    assert main(["predict", str(tmp_path / "nothing"), "text"]) == 2
    assert "no such directory" in error_line(capsys)
    (tmp_path / "train.txt").write_text("pos fine\n")  # a data file given where the model goes
    assert main(["predict", str(tmp_path / "train.txt"), "text"]) == 2
    assert "train.txt: is a file; MODEL_DIR is the folder a 'textkit train --out' wrote" in error_line(capsys)
    assert main(["predict", str(trained), "--file", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt: no such file" in error_line(capsys)
    assert main(["predict", str(trained), "--file", str(tmp_path)]) == 2
    assert error_line(capsys).endswith(f"{tmp_path}: is a folder; --file takes a file with one text per line")
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes(b"great\ncaf\xe9 noir\n")  # latin-1: the bad byte is on line 2
    assert main(["predict", str(trained), "--file", str(legacy)]) == 2
    assert error_line(capsys) == (f"textkit: error: {legacy}, line 2: cannot decode b'\\xe9' as utf-8; "
                                  f"pass --encoding (e.g. latin-1 or cp1252)")
    assert main(["predict", str(trained), "--file", str(legacy), "--encoding", "latin-1"]) == 0
    assert [r["text"] for r in predictions(capsys)] == ["great", "café noir"]


def test_predict_texts_may_follow_options(trained, capsys):
    assert main(["predict", str(trained), "--proba", "a wonderful film", "an awful film"]) == 0
    assert [r["text"] for r in predictions(capsys)] == ["a wonderful film", "an awful film"]
    assert main(["predict", str(trained), "--bogus", "a film"]) == 2  # an unknown option is still one
    assert error_line(capsys) == ("textkit: error: unrecognized arguments: --bogus a film "
                                  "(see 'textkit predict --help')")


def test_predict_drops_a_bom(trained, tmp_path, capsys):
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffgreat fun\nterrible".encode("utf-8"))  # Notepad's UTF-8, no final newline
    assert main(["predict", str(trained), "--file", str(bom)]) == 0
    assert [r["text"] for r in predictions(capsys)] == ["great fun", "terrible"]


# ---------------------------------------------------------------- bad input: exit 2, one line, nothing written

BAD_INPUTS = {
    # name: (file name, content, what the message must name)
    "missing file": (None, None, r"nope\.csv: no such file or directory"),
    "unknown format": ("data.xml", "<x/>", r"data\.xml: cannot tell the format from the name"),
    "missing column": ("data.csv", "label,body\npos,fine\n",
                       r"data\.csv: no column 'text'; the columns are 'label', 'body'"),
    "empty label": ("data.csv", "label,text\npos,fine\n,what label\n", r"data\.csv, row 2 \(line 3\): empty label"),
    "line without label": ("data.all", "pos fine\nnolabel\n", r"data\.all, line 2: expected '<label> <text>'"),
    "jsonl missing column": ("data.jsonl", '{"label": "a", "text": "x"}\n{"label": "b"}\n',
                             r"data\.jsonl, line 2: no column 'text'"),
    "unknown corpus": (None, "trecc", r"unknown corpus 'trecc'.*did you mean 'trec'"),
    # the fixes are flags here, not load_corpus's keyword arguments
    "undecodable bytes": ("data.all", b"pos caf\xe9\n", r"data\.all, line 1, byte offset 7: cannot decode "
                                                        r"b'\\xe9' as utf-8; pass --encoding .* --errors replace$"),
    "trees in a .txt": ("data.txt", "(3 (2 a) (3 b))\n", r"data\.txt: line 1 is a labelled tree .* pass --format "
                                                        r"ptb-trees .* or --format ptb-phrases"),
    "empty file": ("data.all", "", r"data\.all: no records found; is it the right file and format \(label-text\)"),
    "header-only csv": ("data.csv", "label,text\n", r"data\.csv: no records found"),
}


def bad_input(tmp_path, case) -> str:
    name, content, _ = BAD_INPUTS[case]
    if case == "missing file":
        return str(tmp_path / "nope.csv")
    if case == "unknown corpus":
        return content
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


@pytest.mark.parametrize("case", BAD_INPUTS)
@pytest.mark.parametrize("command", ["preprocess", "train"])
def test_bad_input_exits_2_with_one_line_and_no_output(command, case, tmp_path, monkeypatch, capsys):
    import re

    monkeypatch.chdir(tmp_path)
    source = bad_input(tmp_path, case)
    out = tmp_path / "out"
    if command == "preprocess":
        argv = ["preprocess", source, "--out", str(out)]
    elif case == "unknown corpus":
        argv = ["train", "--corpus", source, "--out", str(out)]
    else:
        argv = ["train", "--train", source, "--test", source, "--model", "bow", "--out", str(out)]
    assert main(argv) == 2
    assert re.search(BAD_INPUTS[case][2], error_line(capsys))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == []


# ---------------------------------------------------------------- real processes

def run_textkit(*args: str, stdin: str | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "textkit", *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_subprocess_error_is_one_line_without_traceback(tmp_path):
    bad = tmp_path / "train.csv"
    bad.write_text("label,text\npos,fine\nneg\n", encoding="utf-8")
    done = run_textkit("preprocess", str(bad), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"textkit: error: {bad}, row 2 (line 3): 1 fields, expected 2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.csv"]


def test_subprocess_predict_from_stdin(trained):
    done = run_textkit("predict", str(trained), "--proba", stdin="a superb charming film\n")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["text"] == "a superb charming film" and set(record["probabilities"]) == {"neg", "pos"}


@pytest.mark.parametrize("signal_name, status, what", [("SIGINT", 130, "interrupted"),
                                                       ("SIGTERM", 143, "terminated (SIGTERM)")])
def test_a_signal_to_the_process_group_mid_preprocess_leaves_nothing(tmp_path, signal_name, status, what):
    # Ctrl-C (SIGINT) and kill/schedulers (SIGTERM) reach the worker processes too; a worker
    # that died holding the pool's queue used to hang the parent's cleanup, or print tracebacks
    import signal
    import time

    rows = "".join(f"{'pos' if i % 2 else 'neg'},review {i} of the movie: sooo good or bad {i % 97}\n"
                   for i in range(300_000))
    (tmp_path / "big.csv").write_text("label,text\n" + rows)
    out = tmp_path / "prep"
    process = subprocess.Popen([sys.executable, "-m", "textkit", "preprocess", str(tmp_path / "big.csv"),
                                "--out", str(out), "--num-proc", "2"],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("prep.tmp-*")) and time.monotonic() < deadline:
        time.sleep(0.05)  # the run is under way once its temporary directory exists
    time.sleep(1.0)  # workers busy
    assert process.poll() is None, "preprocess ended before the signal; make the input larger"
    os.killpg(process.pid, getattr(signal, signal_name))
    _, err = process.communicate(timeout=60)
    assert process.returncode == status
    assert err.decode().splitlines() == [f"textkit: error: {what}; no output was left behind"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]


def test_a_class_only_test_has_is_refused_before_training(files, trained, tmp_path, capsys, monkeypatch):
    # caught after training, this cost the whole fit; and the message named no file
    test = write_csv(tmp_path / "odd.csv", corpus_rows(3) + [("meh", "an okay film")])
    import textkit.classifier as classifier_module

    def no_fit(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(classifier_module.TextClassifier, "fit", no_fit)
    assert main(["train", "--train", str(files["train"]), "--test", str(test), *FAST,
                 "--out", str(tmp_path / "run")]) == 2
    assert error_line(capsys) == (f"textkit: error: {test}, record 4: label 'meh' never occurs in the training "
                                  f"data ({files['train']}); fix the label, or add examples of that class to the "
                                  f"training data")
    assert main(["train", "--train", str(files["train"]), "--valid", str(test), "--test", str(files["test"]),
                 *FAST, "--out", str(tmp_path / "run")]) == 2
    assert f"{test}, record 4: label 'meh' never occurs" in error_line(capsys)
    assert main(["evaluate", str(trained), "--test", str(test)]) == 2
    assert error_line(capsys) == (f"textkit: error: {test}, record 4: label 'meh' never occurs in the classes "
                                  f"the model was trained on (neg, pos); fix the label, or evaluate a model "
                                  f"trained with that class")
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- pages: the grid model and ocr

TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
FILLER = ["name", "address", "date", "signature", "registrant", "agent", "country", "number"]


def page_tsv(total_at_top: bool, i: int) -> str:
    """A Tesseract TSV page (1000 x 1000 px) whose class is only where 'total' is printed: the
    same words on every page, 'total' in the top or the bottom fifth."""
    rows = ["1\t1\t0\t0\t0\t0\t0\t0\t1000\t1000\t-1\t\n"]
    words = [(w, 100 + 90 * j, 300 + 60 * ((i + j) % 6)) for j, w in enumerate(FILLER)]
    words.append(("total", 450, 80 if total_at_top else 880))
    for n, (word, x, y) in enumerate(words, 1):
        rows.append(f"5\t1\t1\t1\t1\t{n}\t{x}\t{y}\t80\t30\t95.0\t{word}\n")
    return TSV_HEADER + "".join(rows)


def write_pages(root: Path, n: int, offset: int = 0) -> Path:
    for i in range(offset, offset + n):
        label = "top" if i % 2 else "bottom"
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"page{i:03d}.tsv").write_text(page_tsv(i % 2 == 1, i), encoding="utf-8")
    return root


GRID_FAST = ["--model", "grid", "--grid", "16", "12", "--slots", "2", "--epochs", "8", "--batch-size", "8",
             "--device", "cpu", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pages")
    return {"train": write_pages(root / "train_pages", 40), "test": write_pages(root / "test_pages", 10, offset=40)}


@pytest.fixture(scope="module")
def grid_run(pages, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "grid"
    assert main(["train", "--train", str(pages["train"]), "--test", str(pages["test"]), "--format", "ocr-tsv",
                 *GRID_FAST, "--out", str(out)]) == 0
    return out


def test_train_grid_on_page_folders(grid_run, capsys):
    metrics = json.loads((grid_run / "metrics.json").read_text())
    assert metrics["evaluated_on"] == "test (10 pages)" and metrics["accuracy"] == 1.0
    assert metrics["model"] == "grid" and metrics["sizes"]["test"] == 10
    pipeline = json.loads((grid_run / "model" / "pipeline.json").read_text())
    assert pipeline["format"] == "textkit.LayoutPipeline" and pipeline["grid"] == [16, 12] and pipeline["slots"] == 2


def test_a_text_model_reads_the_same_pages_as_text(pages, tmp_path, capsys):
    """The same folders, no --format (Tesseract's header tells), a text-only model: the words are the
    same on both classes, so it cannot do better than guessing well on 10 pages."""
    out = tmp_path / "bow"
    assert main(["train", "--train", str(pages["train"]), "--test", str(pages["test"]), *FAST, "--out", str(out)]) == 0
    assert "(10 texts)" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["accuracy"] <= 0.7


def test_evaluate_and_predict_pages(grid_run, pages, tmp_path, capsys):
    assert main(["evaluate", str(grid_run), "--test", str(pages["test"]), "--format", "ocr-tsv"]) == 0
    out = capsys.readouterr().out
    assert f"file {pages['test']}: 10 pages" in out and re.search(r"accuracy\s+1\.0000\s+10", out)
    top, bottom = sorted((pages["test"] / "top").iterdir())[0], sorted((pages["test"] / "bottom").iterdir())[0]
    assert main(["predict", str(grid_run), str(top), str(bottom), "--proba"]) == 0
    got = predictions(capsys)
    assert [(r["file"], r["page"], r["label"]) for r in got] == [(str(top), 1, "top"), (str(bottom), 1, "bottom")]
    assert all(set(r["probabilities"]) == {"bottom", "top"} for r in got)
    listing = tmp_path / "pages.txt"
    listing.write_text(f"{top}\n{bottom}\n", encoding="utf-8")
    assert main(["predict", str(grid_run), "--file", str(listing), "--format", "ocr-tsv"]) == 0
    assert [r["label"] for r in predictions(capsys)] == ["top", "bottom"]


def test_explain_pages_scores_the_words_on_their_boxes(grid_run, pages, tmp_path, capsys):
    top = sorted((pages["test"] / "top").iterdir())[0]
    html = tmp_path / "why.html"
    assert main(["explain", str(grid_run), str(top), "--html", str(html), "--threads", "1"]) == 0
    (record,) = predictions(capsys)
    assert record["file"] == str(top) and record["page"] == 1 and record["label"] == "top"
    assert record["tokens"][-1] == "total" and len(record["boxes"]) == len(record["tokens"])
    assert record["scores"][-1] == max(record["scores"])  # the word that decides, where it was printed
    assert "class='page'" in html.read_text(encoding="utf-8")


def test_page_errors_are_one_line(grid_run, trained, pages, files, tmp_path, capsys):
    assert main(["predict", str(grid_run), "what a film"]) == 2
    assert "what a film: no such file" in error_line(capsys)
    assert main(["predict", str(trained), "--format", "ocr-tsv", "a film"]) == 2
    assert error_line(capsys).endswith("--format are for a grid model's page files; this model reads texts")
    out = tmp_path / "out"
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), *GRID_FAST,
                 "--out", str(out)]) == 2
    assert "model 'grid' reads OCR'd pages (words with their boxes), but this data holds plain texts" in \
        error_line(capsys)
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), *FAST, "--grid", "8", "8",
                 "--out", str(out)]) == 2
    assert "--grid and --slots are options of the layout grid, for --model grid" in error_line(capsys)
    broken = write_pages(tmp_path / "broken", 4)
    page = sorted((broken / "top").iterdir())[0]
    page.write_text(page.read_text().replace("\t1000\t1000\t-1", "\t0\t1000\t-1"), encoding="utf-8")
    assert main(["train", "--train", str(broken), "--test", str(pages["test"]), *GRID_FAST, "--out", str(out)]) == 2
    assert re.search(rf"member top/{page.name}, line 2: page 1 has size 0 x 1000 .*positive width", error_line(capsys))
    assert not out.exists()


@pytest.mark.skipif(not __import__("shutil").which("tesseract"), reason="tesseract-ocr is not installed "
                    "(apt-get install tesseract-ocr)")
def test_ocr_writes_tsv_pages_and_reports_a_bad_file(tmp_path, capsys):
    from PIL import Image, ImageDraw, ImageFont

    scans = tmp_path / "scans" / "invoices"
    scans.mkdir(parents=True)
    image = Image.new("L", (900, 300), 255)
    ImageDraw.Draw(image).text((60, 100), "INVOICE", fill=0, font=ImageFont.load_default(size=90))
    image.save(scans / "a.png")
    (scans / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    out = tmp_path / "pages"
    assert main(["ocr", str(tmp_path / "scans"), "--out", str(out), "--num-proc", "1", "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "ocr: 1 files OCR'd (1 pages), 0 already done, 1 failed" in captured.out
    assert re.search(r"textkit: warning: .*b\.png: .*; skipped", captured.err)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tsv")) == ["invoices/a.tsv"]
    from textkit.documents import read_document

    assert "INVOICE" in read_document(out / "invoices" / "a.tsv")[0].words
    (scans / "b.png").unlink()
    assert main(["ocr", str(tmp_path / "scans"), "--out", str(out), "--no-progress"]) == 0  # resumes: nothing to do
    assert "0 files OCR'd (0 pages), 1 already done, 0 failed" in capsys.readouterr().out
    assert main(["ocr", str(tmp_path / "scans"), "--out", str(out), "--tesseract", str(tmp_path / "nope")]) == 2
    assert "install" in error_line(capsys)


@pytest.mark.slow
def test_train_grid_on_fara_forms_cross_validated(shared, tmp_path, capsys):
    out = tmp_path / "fara"
    """The README's command on the registered corpus, with the default epochs (2 folds: 300 training pages each)."""
    assert main(["train", "--corpus", "fara_forms", "--model", "grid", "--cv", "2", "--device", "cpu",
                 "--no-progress", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["cv"]["accuracy"]["mean"] >= 0.95


# ---------------------------------------------------------------- hostile numbers and files (issue #13)

def test_patience_flag_sets_early_stopping_and_0_turns_it_off(files, tmp_path, capsys):
    argv = ["train", "--train", str(files["train"]), "--test", str(files["test"]), *FAST]
    for value, patience, epochs in (("0", None, 5), ("1", 1, 5)):
        out = tmp_path / f"patience{value}"
        assert main([*argv, "--epochs", "5", "--lr", "1e-6", "--patience", value, "--out", str(out)]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["train_config"]["patience"] == patience
        # lr 1e-6 hardly moves validation: patience 1 stops within a few epochs; 0 trains all five
        assert len(metrics["history"]) == epochs if patience is None else len(metrics["history"]) < epochs
    assert main([*argv, "--patience", "-2", "--out", str(tmp_path / "bad")]) == 2
    assert "--patience: expected 0 (no early stopping) or a number of epochs >= 1, got '-2'" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["inf", "nan", "1e30", "-1"])
def test_an_lr_that_cannot_train_is_refused_naming_the_flag(files, tmp_path, capsys, value):
    # inf trained one epoch into NaN weights and saved them; 1e30 ended in a FloatingPointError traceback
    out = tmp_path / "run"
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), *FAST, "--lr", value,
                 "--out", str(out)]) == 2
    assert re.fullmatch(r"textkit: error: --lr must be a finite number in \(0, 10\] \(textkit\.train_config\.MAX_LR\), "
                        r"or None for the optimizer's usual one, got .*", error_line(capsys))
    assert not out.exists()


def test_an_lr_in_the_recipe_is_named_as_the_recipes(files, tmp_path, capsys):
    recipe = tmp_path / "recipe.json"
    recipe.write_text('{"train": {"lr": 1e30}}')
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), *FAST, "--recipe",
                 str(recipe), "--out", str(tmp_path / "run")]) == 2
    assert re.search(r"--recipe .*recipe\.json: train\.lr must be a finite number in \(0, 10\]", error_line(capsys))


def test_a_recipe_nested_too_deep_is_one_line(files, tmp_path, capsys):
    recipe = tmp_path / "recipe.json"
    recipe.write_text('{"train": ' + "[" * 1000 + "]" * 1000 + "}")  # was a RecursionError traceback
    out = tmp_path / "run"
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), *FAST, "--recipe",
                 str(recipe), "--out", str(out)]) == 2
    assert re.search(r"--recipe .*recipe\.json nests JSON arrays and objects more than 64 levels deep",
                     error_line(capsys))
    assert not out.exists()


def test_training_that_diverges_is_one_line(files, tmp_path, capsys, monkeypatch):
    # a learning rate under the limit can still diverge: the loop's FloatingPointError is the user's
    # problem (its message says what to try), not a bug, so no traceback
    import textkit.classifier

    def diverge(*args, **kwargs):
        raise FloatingPointError("training loss is nan at epoch 1, step 3 of 4; stopping. Likely causes: a "
                                 "learning rate too high (lr=9: try it 10x lower or set clip_norm)")

    monkeypatch.setattr(textkit.classifier, "train", diverge)
    out = tmp_path / "run"
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), *FAST, "--out", str(out)]) == 2
    assert error_line(capsys).startswith("textkit: error: training loss is nan at epoch 1, step 3 of 4; stopping.")
    assert not out.exists()


@pytest.mark.parametrize("damage, message", [
    (lambda m: (m / "config.json").write_text((m / "config.json").read_text().rstrip()[:-1] + ', "x": ' + "[" * 1000
                                              + "]" * 1000 + "}"), r"config\.json' nests JSON arrays and objects"),
    (lambda m: (m / "pipeline.json").write_text((m / "pipeline.json").read_text().rstrip()[:-1] + ', "x": ' + "[" * 1000
                                                + "]" * 1000 + "}"), r"pipeline\.json' nests JSON arrays and objects"),
    (lambda m: (m / "config.json").write_text((m / "config.json").read_text().replace('"pos"', '"positive"')),
     r"config\.json' was changed after it was saved"),
])
def test_a_damaged_model_is_one_line_for_predict_and_evaluate(trained, files, tmp_path, capsys, damage, message):
    import shutil

    model = Path(shutil.copytree(trained / "model", tmp_path / "model"))
    damage(model)
    assert main(["predict", str(model), "a superb film"]) == 2
    assert re.search(message, error_line(capsys))
    assert main(["evaluate", str(model), "--test", str(files["test"])]) == 2
    assert re.search(message, error_line(capsys))


def test_predict_file_in_a_wrong_utf16_encoding_names_the_file(trained, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("great fun\nterrible\n", encoding="utf-8")  # no BOM: not what utf-16 needs
    assert main(["predict", str(trained), "--file", str(texts), "--encoding", "utf-16"]) == 2
    assert error_line(capsys) == (f"textkit: error: {texts}, line 1: cannot decode it as utf-16 (UTF-16 stream "
                                  f"does not start with BOM); pass --encoding (e.g. latin-1 or cp1252)")


def test_evaluate_on_unseen_labels_lists_the_other_unseen_ones(trained, tmp_path, capsys):
    # listed sorted from the second on, the first was repeated and one left out: (nor do ['yyy', 'zzz'])
    other = write_csv(tmp_path / "other.csv", [("zzz", "a film"), ("pos", "a superb film"), ("aaa", "a film"),
                                               ("yyy", "a film"), ("zzz", "again")])
    assert main(["evaluate", str(trained), "--test", str(other)]) == 2
    assert re.search(r"record 1: label 'zzz' never occurs in the classes the model was trained on \(neg, pos\) "
                     r"\(nor do 'aaa' \(record 3\) and 'yyy' \(record 4\)\); fix the label", error_line(capsys))


# ---------------------------------------------------------------- limits on the command line

def test_limit_flags_reach_every_reader_and_name_themselves(tmp_path, capsys):
    long = write_csv(tmp_path / "long.csv", [("pos", "x" * 300), ("neg", "fine")])
    out = tmp_path / "out"
    for command in (["preprocess", str(long)], ["train", "--train", str(long), "--test", str(long), *FAST]):
        assert main([*command, "--out", str(out), "--max-record-chars", "100"]) == 2
        assert error_line(capsys).endswith(f"{long}, line 2: longer than 100 characters (max_record_chars); is a "
                                           f"line break missing? If records this long are real, raise "
                                           f"--max-record-chars")
        assert not out.exists()
    assert main(["preprocess", str(long), "--out", str(out), "--max-record-chars", "0"]) == 2
    assert error_line(capsys) == "textkit: error: --max-record-chars 0: expected a whole number >= 1"
    assert main(["preprocess", str(long), "--out", str(out), "--max-record-chars", "1000"]) == 0  # raised: read


def test_a_file_in_another_encoding_than_given_is_named(files, tmp_path, capsys):
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), *FAST, "--encoding", "utf-16",
                 "--out", str(tmp_path / "out")]) == 2
    assert error_line(capsys) == (f"textkit: error: {files['train']}: cannot decode it as utf-16 (UTF-16 stream does "
                                  f"not start with BOM); pass the file's --encoding (e.g. 'utf-8', 'latin-1' or "
                                  f"'cp1252')")


# ---------------------------------------------------------------- day-to-day defects (#15)

def test_evaluate_macro_row_averages_the_classes_in_play(trained, tmp_path, capsys):
    only_pos = write_csv(tmp_path / "pos.csv", [row for row in corpus_rows(20, offset=40) if row[0] == "pos"])
    assert main(["evaluate", str(trained), "--test", str(only_pos), "--out", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    row = next(line for line in out.splitlines() if line.startswith("macro avg")).split()
    assert [float(v) for v in row[2:5]] == [round(metrics[k], 4) for k in ("macro_precision", "macro_recall",
                                                                             "macro_f1")]
    if metrics["macro_classes"] == 1:  # the model predicted 'pos' only: 'neg' is in no average
        assert "(macro averages over the 1 classes in the data or the predictions; no examples of neg here)" in out


def test_predict_says_which_texts_were_empty(trained, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("a superb film\n\n  \ndull\n", encoding="utf-8")
    assert main(["predict", str(trained), "--file", str(texts)]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [r.get("empty", False) for r in records] == [False, True, True, False]  # one output per line
    assert captured.err == ("textkit: warning: 2 empty text(s) (input 2, 3): a label without words comes from the "
                            "model's biases alone; their records say \"empty\": true\n")


def test_train_counts_empty_texts_in_the_data_line(tmp_path, capsys):
    rows = corpus_rows(40)
    path = tmp_path / "train.txt"
    path.write_text("".join(f"{label} {text}\n" for label, text in rows) + "pos \n", encoding="utf-8")
    test = write_csv(tmp_path / "test.csv", corpus_rows(10, offset=40))
    assert main(["train", "--train", str(path), "--test", str(test), *FAST, "--out", str(tmp_path / "run")]) == 0
    assert re.search(r"^data: files .*\(train 41 \(1 empty\), test 10; 2 classes\)$", capsys.readouterr().out, re.M)


@pytest.mark.parametrize("argv, message", [
    (["train", "--train", "a.csv", "--out", "taken"], "taken already exists"),
    (["train", "--train", "a.csv", "--out", "new"], "no test data: pass --test FILE, or --cv K"),
    (["train", "--train", "a.csv", "--test", "a.csv", "--text-column", "body", "--out", "new"],
     "a.csv: no column 'body'; the columns are 'label', 'text'; name the ones to read with --text-column"),
    (["train", "--train", "a.xyz", "--test", "a.csv", "--out", "new"], "a.xyz: cannot tell the format from the name"),
    (["train", "--train", "a.csv", "--test", "b.csv", "--out", "new"], "b.csv: no such file or directory"),
    (["evaluate", "model", "--test", "a.csv", "--label-column", "y"], "a.csv: no column 'y'"),
    (["evaluate", "model", "--test", "a.csv", "--out", "taken"], "taken already exists"),
    (["preprocess", "a.csv", "--out", "taken"], "taken already exists"),
])
def test_argument_and_file_errors_come_before_torch_is_imported(argv, message, tmp_path, run_python):
    """They took 8-18 s on a busy machine, most of it importing torch and loading the data."""
    (tmp_path / "a.csv").write_text("label,text\npos,good\nneg,bad\n", encoding="utf-8")
    (tmp_path / "a.xyz").write_text("pos good\n", encoding="utf-8")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("mine", encoding="utf-8")
    (tmp_path / "model").mkdir()
    code = (f"import os, sys; os.chdir({str(tmp_path)!r}); from textkit.cli import main; "
            f"status = main({argv!r}); print(status, 'torch' in sys.modules, 'datasets' in sys.modules)")
    assert run_python(code).split() == ["2", "False", "False"]
    status = subprocess.run([sys.executable, "-m", "textkit", *argv], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert status.returncode == 2 and message in status.stderr, status.stderr


# ---------------------------------------------------------------- runs a user can continue

def _run_until(argv: list[str], cwd: Path, line_prefix: str, sig: int) -> tuple[int, str]:
    """Start ``textkit argv``, send ``sig`` once stderr shows a line starting ``line_prefix``;
    return the exit status and all of stderr."""
    process = subprocess.Popen([sys.executable, "-m", "textkit", *argv], cwd=cwd, stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith(line_prefix):
            process.send_signal(sig)
            break
    seen.append(process.stderr.read())
    return process.wait(), "".join(seen)


def test_an_interrupted_or_killed_train_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, capsys):
    import signal

    from textkit.outputs import interrupted_run

    monkeypatch.setenv("TEXTKIT_DATA", str(tmp_path / "none"))  # the bundled TREC
    monkeypatch.chdir(tmp_path)
    # small batches: epochs of seconds, so that the signals land mid-run
    argv = ["train", "--corpus", "trec", "--model", "bow", "--epochs", "3", "--batch-size", "8", "--threads", "1",
            "--device", "cpu"]
    assert main([*argv, "--out", "straight"]) == 0
    # Ctrl-C after epoch 1: exit 130, the epoch kept, the command to continue printed
    status, err = _run_until([*argv, "--out", "run"], tmp_path, "epoch 1/3", signal.SIGINT)
    assert status == 130 and not (tmp_path / "run").exists()
    assert "textkit: error: interrupted; the finished epochs are kept beside run: continue with textkit train " \
           "--corpus trec" in err and err.rstrip().endswith("--out run --resume")
    # resumed, then killed outright after epoch 2
    status, err = _run_until([*argv, "--out", "run", "--resume"], tmp_path, "epoch 2/3", signal.SIGKILL)
    assert status == -signal.SIGKILL and "epoch 1/3" not in err  # epoch 1 was not trained again
    assert interrupted_run(tmp_path / "run") is not None and not (tmp_path / "run").exists()
    capsys.readouterr()
    assert main([*argv, "--out", "run", "--resume"]) == 0
    assert "epoch 3/3" in capsys.readouterr().err
    straight, resumed = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("straight", "run"))
    untimed = lambda history: [{k: v for k, v in r.items() if k not in ("seconds", "tokens_per_s")}  # noqa: E731
                               for r in history]
    assert untimed(resumed["history"]) == untimed(straight["history"])
    assert resumed["accuracy"] == straight["accuracy"]
    from safetensors.torch import load_file

    # bit-identical weights (the files' bytes may differ: safetensors writes its metadata map in any order)
    straight_w, resumed_w = (load_file(tmp_path / name / "model" / "model.safetensors") for name in ("straight", "run"))
    assert straight_w.keys() == resumed_w.keys()
    assert all(straight_w[k].equal(resumed_w[k]) for k in straight_w)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        ".textkit-output.json", "checkpoint.pt", "confusion_matrix.png", "history.jsonl", "metrics.json", "model",
        "training_curves.png"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("run.")] == []  # nothing left beside it


def test_resume_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--corpus", "trec", "--resume"]) == 2
    assert "--resume continues the interrupted run of an --out folder: pass the --out it had" in error_line(capsys)
    assert main(["train", "--corpus", "trec", "--out", "r", "--resume"]) == 2
    assert "nothing to resume: no interrupted run of --out r was found" in error_line(capsys)
    assert main(["train", "--corpus", "trec", "--cv", "3", "--out", "r", "--resume"]) == 2
    assert "--resume continues one training run; --cv trains one per fold" in error_line(capsys)


def test_train_without_out_writes_a_new_numbered_run(tmp_path, monkeypatch, files, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "7").mkdir(parents=True)
    (tmp_path / "runs" / "notes").mkdir()
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), *FAST]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "runs" / "8" / "metrics.json").exists()
    assert re.search(r"^wrote runs/8/: (confusion_matrix\.png, )?checkpoint\.pt, (confusion_matrix\.png, )?history\.jsonl, "
                     r"metrics\.json, model/(, training_curves\.png)? \(\d+ s training, \d+ s in all\)$", out, re.M)
    # files training held out 10% of train for validation, and says so (it printed "train 40" alone)
    assert "held out 4 of the 40 training records for validation (early stopping); trained on 36" in out
    metrics = json.loads((tmp_path / "runs" / "8" / "metrics.json").read_text())
    assert metrics["sizes"] == {"train": 36, "valid": 4, "test": 10}


def test_train_with_pretrained_vectors(files, tmp_path, capsys):
    words = sorted(set(GOOD + BAD + ["a", "and", "film", "number"]))
    vectors = tmp_path / "tiny.vec.txt"  # GloVe layout: word then its values, no header
    vectors.write_text("".join(f"{w} " + " ".join(f"{(i * 7 + j) % 11 / 10:.1f}" for j in range(8)) + "\n"
                               for i, w in enumerate(words)), encoding="utf-8")
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), *FAST, "--vectors",
                 str(vectors), "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^vectors: found \d+ of \d+ vocabulary tokens \(\d+\.\d%\) in tiny\.vec\.txt \(dim 8, ", out, re.M)
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert config["model"]["embed_dim"] == 8
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["vectors"]["file"] == str(vectors) and metrics["vectors"]["coverage"].startswith("found ")
    assert main(["train", "--train", str(files["train"]), "--test", str(files["test"]), *FAST, "--vectors",
                 str(tmp_path / "nope.vec"), "--out", str(tmp_path / "run2")]) == 2
    assert "nope.vec: no such word-vector file (--vectors)" in error_line(capsys)


def test_train_corpus_sst2_trains_on_the_phrases_of_the_training_trees(tmp_path, capsys, monkeypatch):
    """As the reproduction table does (Kim's protocol): 77,616 phrases, validated on the 872 dev sentences."""
    import textkit.classifier as classifier_module

    seen = {}

    def recording_fit(self, texts, labels, valid=None, **kwargs):
        seen.update(train=len(texts), valid=len(valid[0]), labels=set(labels))
        raise KeyboardInterrupt  # stop before training: the data is what is checked

    monkeypatch.setattr(classifier_module.TextClassifier, "fit", recording_fit)
    monkeypatch.delenv("TEXTKIT_DATA", raising=False)  # the bundled copy
    main(["train", "--corpus", "sst2", "--model", "bow", "--no-progress", "--out", str(tmp_path / "run")])
    assert seen == {"train": 77_616, "valid": 872, "labels": {"negative", "positive"}}
    out = capsys.readouterr().out
    assert ("data: corpus 'sst2', trained on the labelled phrases of its training trees (train 77,616, valid 872, "
            "test 1,821; 2 classes)\nmodel: bow, recipe 'sst2' (textkit.recipes)\n") in out
