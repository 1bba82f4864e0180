"""A catalogue of hostile inputs, each run through the ``textkit`` command line.

Every case builds its files in an empty folder (the user's folder), runs one command and holds
the documented behaviour: exit status 2, one ``textkit: error:`` line that says what is wrong and
where, and the folder exactly as it was (nothing written, nothing deleted, nothing half-done).
The cases are the ones the adversarial pass of issue #13 found, and the README's "What textkit
refuses" section lists them. Memory on the bombs and the long line is measured in
``scripts/bench_limits.py``, not here.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from textkit.cli import main
from textkit.fileio import json_sha256

FAST = ["--model", "bow", "--epochs", "1", "--device", "cpu", "--threads", "1", "--no-progress"]
ROWS = [("pos", "a superb and charming film"), ("neg", "a dull and tedious film")] * 6
TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"


def csv_text(rows) -> str:
    return "label,text\n" + "".join(f"{label},{text}\n" for label, text in rows)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A tiny saved model; cases that damage one work on a copy."""
    root = tmp_path_factory.mktemp("model")
    (root / "train.csv").write_text(csv_text(ROWS), encoding="utf-8")
    assert main(["train", "--train", str(root / "train.csv"), "--test", str(root / "train.csv"), *FAST,
                 "--out", str(root / "run")]) == 0
    return root / "run" / "model"


# -- building the hostile files ---------------------------------------------------------------------
def archive_bomb(suffix: str) -> Callable[[Path], list[str]]:
    """A class-folder archive whose one member inflates 1,000-fold (10 MB from ~10 KB)."""
    def build(d: Path) -> list[str]:
        member, data = "train/pos/a.txt", b"a " * 5_000_000
        path = d / f"corpus{suffix}"
        if suffix == ".zip":
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(member, data)
        else:
            with tarfile.open(path, "w:gz") as tar:
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return ["preprocess", str(path), "--out", str(d / "out")]
    return build


def long_line(d: Path) -> list[str]:
    """One record of 17 million characters (the default limit is 16 Mi)."""
    (d / "train.csv").write_text(csv_text([("pos", "a" * 17_000_000)]), encoding="utf-8")
    return ["preprocess", str(d / "train.csv"), "--out", str(d / "out")]


def long_line_to_predict(d: Path, model: Path) -> list[str]:
    (d / "texts.txt").write_text("a superb film\n" + "a" * 17_000_000 + "\n", encoding="utf-8")
    return ["predict", str(model), "--file", str(d / "texts.txt")]


def linked_file(d: Path) -> list[str]:
    """A class folder whose 'text' is a link to a file elsewhere (/etc/passwd, say)."""
    (d / "secret.txt").write_text("root:x:0:0\n", encoding="utf-8")
    for label in ("pos", "neg"):
        (d / "corpus" / "train" / label).mkdir(parents=True)
        (d / "corpus" / "train" / label / "1.txt").write_text("a film", encoding="utf-8")
    (d / "corpus" / "train" / "pos" / "2.txt").symlink_to(d / "secret.txt")
    return ["preprocess", str(d / "corpus"), "--out", str(d / "out")]


def deep_recipe(d: Path) -> list[str]:
    (d / "train.csv").write_text(csv_text(ROWS), encoding="utf-8")
    (d / "recipe.json").write_text('{"epochs": ' + "[" * 1000 + "]" * 1000 + "}", encoding="utf-8")
    return ["train", "--train", str(d / "train.csv"), "--test", str(d / "train.csv"), *FAST,
            "--recipe", str(d / "recipe.json"), "--out", str(d / "out")]


def deep_jsonl(d: Path) -> list[str]:
    lines = [json.dumps({"label": label, "text": text}) for label, text in ROWS]
    lines.insert(3, '{"label": "pos", "text": ' + "[" * 1000 + "]" * 1000 + "}")
    (d / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["preprocess", str(d / "train.jsonl"), "--out", str(d / "out")]


def mixed_line_endings(d: Path) -> list[str]:
    """\\n, \\r\\n and a bare \\r in one file: read as lines of one kind, records would merge."""
    (d / "train.txt").write_bytes(b"pos a superb film\r\nneg a dull film\rpos a fine film\nneg a bad film\n")
    return ["preprocess", str(d / "train.txt"), "--out", str(d / "out")]


def utf16_without_bom(d: Path, model: Path) -> list[str]:
    (d / "texts.txt").write_text("a superb film\n", encoding="utf-8")
    return ["predict", str(model), "--file", str(d / "texts.txt"), "--encoding", "utf-16"]


def lr(value: str) -> Callable[[Path], list[str]]:
    def build(d: Path) -> list[str]:
        (d / "train.csv").write_text(csv_text(ROWS), encoding="utf-8")
        return ["train", "--train", str(d / "train.csv"), "--test", str(d / "train.csv"), *FAST, "--lr", value,
                "--out", str(d / "out")]
    return build


def overwrite_foreign(d: Path) -> list[str]:
    """Issue #13's data loss: a home folder that merely holds a metrics.json."""
    (d / "train.csv").write_text(csv_text(ROWS), encoding="utf-8")
    (d / "home" / "Documents").mkdir(parents=True)
    (d / "home" / "Documents" / "thesis.txt").write_text("draft", encoding="utf-8")
    (d / "home" / "metrics.json").write_text("{}", encoding="utf-8")
    return ["train", "--train", str(d / "train.csv"), "--test", str(d / "train.csv"), *FAST,
            "--out", str(d / "home"), "--overwrite"]


def page_folder(d: Path, name: str, content: str) -> Path:
    """Tesseract TSV pages in class folders, ``top/name`` holding ``content``."""
    for label in ("top", "bottom"):
        (d / "pages" / label).mkdir(parents=True, exist_ok=True)
        row = "5\t1\t1\t1\t1\t1\t100\t100\t80\t30\t95.0\tword\n"
        (d / "pages" / label / "1.tsv").write_text(TSV_HEADER + "1\t1\t0\t0\t0\t0\t0\t0\t1000\t1000\t-1\t\n" + row,
                                                   encoding="utf-8")
    (d / "pages" / "top" / name).write_text(content, encoding="utf-8")
    return d / "pages"


def box_off_the_page(d: Path) -> list[str]:
    row = "5\t1\t1\t1\t1\t1\t900\t100\t300\t30\t95.0\ttotal\n"  # x 900-1200 on a 1000-wide page
    pages = page_folder(d, "2.tsv", TSV_HEADER + "1\t1\t0\t0\t0\t0\t0\t0\t1000\t1000\t-1\t\n" + row)
    return ["preprocess", str(pages), "--out", str(d / "out")]


def billion_laughs(d: Path) -> list[str]:
    """An hOCR page whose entities expand to 10**9 'lol's."""
    laughs = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    for label in ("top", "bottom"):
        (d / "pages" / label).mkdir(parents=True)
        (d / "pages" / label / "1.hocr").write_text(
            f'<?xml version="1.0"?><!DOCTYPE html [{laughs}]><html><body>&a9;</body></html>', encoding="utf-8")
    return ["preprocess", str(d / "pages"), "--out", str(d / "out")]


# -- damaged models: the digests catch edits; the limits behind them catch edits made with the
#    digests recomputed (someone who means it) --------------------------------------------------------
def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def redigest(model: Path) -> None:
    """Record the digests a save would: the damage they cannot see."""
    edit_json(model / "config.json", lambda c: c.update(
        weights_sha256=hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest(),
        pipeline_sha256=json_sha256(json.loads((model / "pipeline.json").read_text(encoding="utf-8")))))
    edit_json(model / "config.json", lambda c: c.update(
        config_sha256=json_sha256({k: v for k, v in c.items() if k != "config_sha256"})))


def flip_a_weight_bit(m: Path) -> None:
    data = bytearray((m / "model.safetensors").read_bytes())
    data[-7] ^= 0x10  # in the last tensor's values, not the header
    (m / "model.safetensors").write_bytes(bytes(data))


def nan_weights(m: Path) -> None:
    from safetensors.torch import load_file, save

    tensors = load_file(m / "model.safetensors")
    tensors["fc.bias"][0] = float("nan")
    (m / "model.safetensors").write_bytes(save(tensors, metadata={"format": "textkit.TextClassifier", "version": "1"}))
    redigest(m)


def config_edit(change: Callable[[dict], None], recompute: bool = False) -> Callable[[Path], None]:
    def damage(m: Path) -> None:
        edit_json(m / "config.json", change)
        if recompute:
            redigest(m)
    return damage


def pipeline_edit(change: Callable[[dict], None], recompute: bool = False) -> Callable[[Path], None]:
    def damage(m: Path) -> None:
        edit_json(m / "pipeline.json", change)
        if recompute:
            redigest(m)
    return damage


def rename_label(c: dict) -> None:
    c["labels"] = ["negative" if x == "neg" else x for x in c["labels"]]


def set_tokenizer(p: dict) -> None:
    p["tokenizer"]["type"] = "whitespace"


def set_max_repeats(p: dict) -> None:
    p["cleaner"]["config"]["max_repeats"] = 100_000_000  # hung for minutes, 5.8 GB


def damaged_model(damage: Callable[[Path], None], command: str = "predict") -> Callable[[Path, Path], list[str]]:
    def build(d: Path, model: Path) -> list[str]:
        copy = Path(shutil.copytree(model, d / "model"))
        damage(copy)
        if command == "predict":
            return ["predict", str(copy), "a superb film"]
        (d / "test.csv").write_text(csv_text(ROWS), encoding="utf-8")
        return ["evaluate", str(copy), "--test", str(d / "test.csv"), "--out", str(d / "out")]
    return build


@dataclass(frozen=True)
class Case:
    build: Callable[..., list[str]]  # (folder) or (folder, model) -> argv
    message: str  # a regex the one error line must match
    needs_model: bool = False


CATALOGUE: dict[str, Case] = {
    # bombs and oversized records: refused while streaming, before memory grows
    "tar.gz bomb": Case(archive_bomb(".tar.gz"), r"corpus\.tar\.gz, member train/pos/a\.txt: decompresses to more than 100 times .*--max-compression-ratio"),
    "zip bomb": Case(archive_bomb(".zip"), r"corpus\.zip, member train/pos/a\.txt: decompresses to more than 100 times .*--max-compression-ratio"),
    "17M-character line": Case(long_line, r"train\.csv.*line 2.*longer than .*--max-record-chars"),
    "17M-character line to predict": Case(long_line_to_predict, r"texts\.txt, line 2: longer than 16,777,216 "
                                         r"characters .*--max-record-chars", needs_model=True),
    "hOCR billion laughs": Case(billion_laughs, r"bottom/1\.hocr, line 1, column \d+: not well-formed XML \(limit on input amplification"),
    # reads outside the corpus
    "symlink in a class folder": Case(linked_file, r"2\.txt.*link"),
    # JSON a parser would recurse into
    "deep recipe JSON": Case(deep_recipe, r"recipe\.json.*nests JSON arrays and objects"),
    "deep .jsonl record": Case(deep_jsonl, r"train\.jsonl, line 4: JSON nested too deeply to parse"),
    # silent misreads
    "mixed line endings": Case(mixed_line_endings, r"train\.txt, line 2: ends with a bare \\r, but line 1 ends with \\n"),
    "UTF-16 without a BOM": Case(utf16_without_bom, r"texts\.txt, line 1: cannot decode it as utf-16",
                                 needs_model=True),
    "a box off the page": Case(box_off_the_page, r"top/2\.tsv, line 3: box \(900, 100, 1200, 130\) is not on the 1000 x 1000 page"),
    # flags that cannot train
    "--lr inf": Case(lr("inf"), r"--lr"),
    "--lr 1e30": Case(lr("1e30"), r"--lr"),
    # what --overwrite may delete: only textkit's own output
    "--overwrite on a folder textkit did not write": Case(overwrite_foreign, r"home.*not .*textkit"),
    # damaged models, caught by the digests
    "a flipped weight bit": Case(damaged_model(flip_a_weight_bit), r"model\.safetensors' was changed after it was "
                                 r"saved", needs_model=True),
    "a renamed label": Case(damaged_model(config_edit(rename_label)), r"config\.json' was changed after it was saved",
                            needs_model=True),
    "an edited tokenizer": Case(damaged_model(pipeline_edit(set_tokenizer)), r"pipeline\.json' was changed after it was saved",
                                needs_model=True),
    "a renamed label, evaluate --out": Case(damaged_model(config_edit(rename_label), "evaluate"),
                                            r"config\.json' was changed after it was saved", needs_model=True),
    # ... and behind them, with the digests recomputed
    "NaN weights": Case(damaged_model(nan_weights), r"model\.safetensors' holds NaN or infinite values",
                        needs_model=True),
    "embed_dim 1e9": Case(damaged_model(config_edit(lambda c: c["model"].update(embed_dim=10**9), recompute=True)),
                          r"config\.json': model 'bow' would have [\d,]+ parameters", needs_model=True),
    "max_repeats 1e8": Case(damaged_model(pipeline_edit(set_max_repeats, recompute=True)),
                            r"pipeline\.json.*max_repeats= must be an int from 0 \(off\) to 1000", needs_model=True),
}


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its kind, mode and content digest."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(root))] = ("link", str(path.readlink()))
        elif path.is_dir():
            found[str(path.relative_to(root))] = ("dir", path.stat().st_mode)
        else:
            found[str(path.relative_to(root))] = ("file", path.stat().st_mode,
                                                  hashlib.sha256(path.read_bytes()).hexdigest())
    return found


@pytest.mark.parametrize("case", CATALOGUE)
def test_hostile_input_is_one_line_exit_2_and_changes_nothing(case, model, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    entry = CATALOGUE[case]
    argv = entry.build(tmp_path, model) if entry.needs_model else entry.build(tmp_path)
    before = snapshot(tmp_path)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("textkit: error: "), err
    assert re.search(entry.message, lines[0]), lines[0]
    assert snapshot(tmp_path) == before  # no output, no leftovers, nothing of the user's touched
