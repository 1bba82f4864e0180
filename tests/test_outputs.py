"""What textkit leaves on disk: a marker in every output folder, ``--overwrite`` that deletes only
what textkit wrote, and temporaries of killed runs removed by the next run (never a live run's,
never a user's file).

Killed runs are real ``kill -9``s of a subprocess where the moment can be chosen, and stale
names made by hand with the pid of a process that has exited where it cannot (cheaper, exact).
"""
import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from textkit import TextClassifier
from textkit.cli import main
from textkit.fileio import atomic_write, temporary_owner
from textkit.outputs import MARKER_FILE, atomic_directory, check_output_directory
from textkit.preprocess import preprocess

REPO = Path(__file__).resolve().parents[1]
FAST = ["--model", "bow", "--epochs", "1", "--device", "cpu", "--threads", "1", "--no-progress"]
ROWS = [("pos" if i % 2 else "neg", f"a {'great fun' if i % 2 else 'dull awful'} film number {i}")
        for i in range(24)]


def write_csv(path: Path, rows) -> Path:
    path.write_text("label,text\n" + "".join(f"{label},{text}\n" for label, text in rows), encoding="utf-8")
    return path


def tree(folder: Path) -> list[str]:
    """Every entry under ``folder`` (hidden ones too), relative, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def siblings(path: Path) -> list[str]:
    """Everything beside ``path`` whose name starts like it (the output, tmp dirs, old dirs)."""
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def make_output(out: Path, files: dict[str, str], **kwargs) -> None:
    with atomic_directory(out, **kwargs) as tmp:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text)


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """One `textkit train` output folder (model/ and metrics.json)."""
    root = tmp_path_factory.mktemp("run")
    train, test = write_csv(root / "train.csv", ROWS), write_csv(root / "test.csv", ROWS[:8])
    assert main(["train", "--train", str(train), "--test", str(test), *FAST, "--out", str(root / "run")]) == 0
    return root / "run"


# ---------------------------------------------------------------- the marker and --overwrite

def test_evaluate_overwrite_never_empties_a_folder_that_merely_holds_metrics_json(run, tmp_path, capsys):
    # the report: h/ lost the user's Documents because it held a metrics.json
    home = tmp_path / "h"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "thesis.txt").write_text("draft")
    (home / "metrics.json").write_text("{}")
    test = write_csv(tmp_path / "test.csv", ROWS[:8])
    assert main(["evaluate", str(run), "--test", str(test), "--out", str(home), "--overwrite"]) == 2
    line = error_line(capsys)
    assert line.startswith(f"textkit: error: {home} is not empty and does not look like textkit output (no "
                           f"{MARKER_FILE};")
    assert "delete the folder yourself" in line and "choose another --out" in line
    assert tree(home) == ["Documents", "Documents/thesis.txt", "metrics.json"]
    assert (home / "Documents" / "thesis.txt").read_text() == "draft" and siblings(home) == ["h"]


def test_every_command_marks_its_output_with_the_files_it_wrote(run, tmp_path):
    marker = json.loads((run / MARKER_FILE).read_text())
    assert marker["format"] == "textkit.output" and marker["version"] == 1
    assert marker["files"] == ["checkpoint.pt", "confusion_matrix.png", "history.jsonl", "metrics.json",
                               "model/config.json", "model/model.safetensors", "model/pipeline.json",
                               "training_curves.png"]
    assert marker["folders"] == ["model"]
    assert tree(run) == sorted([MARKER_FILE, "model", *marker["files"]])

    out = tmp_path / "prep"
    preprocess([str(write_csv(tmp_path / "train.csv", ROWS))], out, num_proc=1, shard_size=10)
    marker = json.loads((out / MARKER_FILE).read_text())
    assert marker["files"] == ["data/train-00000-of-00003.parquet", "data/train-00001-of-00003.parquet",
                               "data/train-00002-of-00003.parquet", "pipeline.json", "rejected.jsonl",
                               "report.json"]
    assert "textkit_version" in marker and isinstance(marker["command"], str)
    # hidden: the module doc's way of reading the shards does not trip over it
    import datasets

    assert len(datasets.load_dataset("parquet", data_dir=str(out))["train"]) == 24


def test_overwrite_replaces_what_textkit_wrote(run, tmp_path, capsys):
    out = tmp_path / "eval"
    test = write_csv(tmp_path / "test.csv", ROWS[:8])
    assert main(["evaluate", str(run), "--test", str(test), "--out", str(out)]) == 0
    (out / "confusion_matrix.png").unlink(missing_ok=True)  # a textkit file the user deleted: still fine
    assert main(["evaluate", str(run), "--test", str(test), "--out", str(out), "--overwrite"]) == 0
    assert (out / "metrics.json").exists() and siblings(out) == ["eval"]

    make_output(tmp_path / "o", {"a.txt": "1", "sub/b.txt": "2"})
    make_output(tmp_path / "o", {"c.txt": "3"}, overwrite=True)
    assert tree(tmp_path / "o") == [MARKER_FILE, "c.txt"]  # replaced whole: nothing of the old output stays


def test_evaluate_overwrite_never_replaces_a_training_run(run, tmp_path, capsys):
    """All textkit's own files, but another command's: `evaluate --out RUN --overwrite` would delete the model."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    test = write_csv(tmp_path / "test.csv", ROWS[:8])
    assert main(["evaluate", str(copy), "--test", str(test), "--out", str(copy), "--overwrite"]) == 2
    assert error_line(capsys) == (f"textkit: error: {copy} holds the output of 'textkit train' (see {copy / MARKER_FILE}); "
                                  f"--overwrite replaces only the output of the same command, not with that of "
                                  f"'textkit evaluate': choose another --out")
    assert tree(copy) == tree(run)
    assert json.loads((run / MARKER_FILE).read_text())["kind"] == "train"


@pytest.mark.parametrize("added, named", [("notes.txt", "notes.txt"), ("model/notes.txt", "model/notes.txt"),
                                          ("Documents/thesis.txt", "Documents"), ("link", "link"),
                                          ("model/linked_folder/", "model/linked_folder")])
def test_overwrite_refuses_a_file_the_user_added_to_textkit_output(tmp_path, added, named):
    out = tmp_path / "run"
    make_output(out, {"metrics.json": "{}", "model/config.json": "{}"})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "mine.txt").write_text("mine")
    if added == "link":  # a link is removed, never followed: still the user's
        (out / "link").symlink_to(outside / "mine.txt")
    elif added.endswith("/"):
        (out / added).symlink_to(outside, target_is_directory=True)
    else:
        (out / added).parent.mkdir(exist_ok=True)
        (out / added).write_text("mine")
    before = tree(out)
    with pytest.raises(FileExistsError) as caught:
        make_output(out, {"metrics.json": "{}"}, overwrite=True)
    assert str(caught.value) == (f"{out / named} was not written by textkit (it is not listed in {out / MARKER_FILE}) "
                                 f"and --overwrite would delete it: move it out of {out}, or choose another --out")
    assert tree(out) == before and tree(outside) == ["mine.txt"] and siblings(out) == ["run"]


def test_overwrite_refuses_output_written_before_the_marker(tmp_path):
    # old textkit output (report.json, no marker) is not deleted blindly: the user decides
    out = tmp_path / "prep"
    (out / "data").mkdir(parents=True)
    (out / "report.json").write_text("{}")
    (out / "data" / "train-00000-of-00001.parquet").write_bytes(b"PAR1")
    with pytest.raises(FileExistsError) as caught:
        check_output_directory(out, overwrite=True)
    message = str(caught.value)
    assert message.startswith(f"{out} is not empty and does not look like textkit output (no {MARKER_FILE}; "
                              f"output of textkit from before that mark has none)")
    assert message.endswith("delete the folder yourself if nothing in it is needed, or choose another --out")
    assert "\n" not in message
    assert tree(out) == ["data", "data/train-00000-of-00001.parquet", "report.json"]


@pytest.mark.parametrize("content", ["not json", '{"format": "textkit.output", "version": 1, "files": "x"}',
                                     '{"format": "something else", "version": 1}'])
def test_a_damaged_marker_is_refused(tmp_path, content):
    out = tmp_path / "run"
    make_output(out, {"metrics.json": "{}"})
    (out / MARKER_FILE).write_text(content)
    expected = (rf"^{re.escape(str(out))}: .*{re.escape(MARKER_FILE)}.*; refusing to delete {re.escape(str(out))} "
                rf"for --overwrite: delete it yourself, or choose another --out$")
    with pytest.raises(FileExistsError, match=expected):
        check_output_directory(out, overwrite=True)
    assert (out / "metrics.json").exists()


def test_an_empty_folder_may_be_overwritten(tmp_path):
    (tmp_path / "empty").mkdir()
    make_output(tmp_path / "empty", {"a.txt": "1"}, overwrite=True)
    assert tree(tmp_path / "empty") == [MARKER_FILE, "a.txt"]


# ---------------------------------------------------------------- temporaries of killed runs

KILLED_RUN = """
import sys, time
from pathlib import Path
from textkit.fileio import atomic_write
from textkit.outputs import atomic_directory

out, side = Path(sys.argv[1]), Path(sys.argv[2])

def slow(f):
    f.write(b"half a checkpoint")
    f.flush()
    print("ready", flush=True)
    time.sleep(120)

with atomic_directory(out) as tmp:
    (tmp / "data").mkdir()
    (tmp / "data" / "train-00000-of-00001.parquet").write_bytes(b"PAR1 final-named")
    atomic_write(side / "checkpoint.pt", slow)
"""


def test_the_next_run_removes_what_a_kill_9_left(tmp_path):
    out, side = tmp_path / "out", tmp_path / "side"
    side.mkdir()
    (side / "checkpoint.pt").write_bytes(b"the previous checkpoint")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(out), str(side)], stdout=subprocess.PIPE,
                               env=env)
    try:
        assert process.stdout.readline() == b"ready\n"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert len(siblings(out)) == 1 and siblings(out)[0].startswith("out.tmp-")  # what a kill -9 leaves
    assert len(list(side.glob(".checkpoint.pt.*.tmp"))) == 1

    make_output(out, {"a.txt": "1"})  # the next run on the same out
    assert siblings(out) == ["out"]
    atomic_write(side / "checkpoint.pt", lambda f: f.write(b"new"))  # the next write of the same file
    assert tree(side) == ["checkpoint.pt"] and (side / "checkpoint.pt").read_bytes() == b"new"


def test_temporaries_of_live_runs_other_machines_and_users_are_kept(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = dead_pid()
        kept = [f"out.tmp-{temporary_owner(live.pid)}-0123abcd",  # a run going on now
                f"out.tmp-{temporary_owner()}-0123abcd",  # this very process
                f"out.tmp-{dead}-ffffffff-0123abcd",  # another machine's run (shared disk): its pid means nothing here
                "out.tmp-0123abcd", "out.tmp-notes", "out.old", f"out.tmp-{temporary_owner(dead)}-0123abcd.zip",
                f".f.txt.{temporary_owner(live.pid)}-abcd_123.tmp", f".f.txt.{dead}-ffffffff-abcd_123.tmp",
                ".f.txt.abcd_123.tmp", ".notes.tmp", f".g.txt.{temporary_owner(dead)}-abcd_123.tmp"]
        for name in kept:
            (tmp_path / name).mkdir() if name.startswith("out") else (tmp_path / name).write_text("x")
        make_output(tmp_path / "out", {"a.txt": "1"})
        atomic_write(tmp_path / "f.txt", lambda f: f.write(b"1"))
        assert tree(tmp_path) == sorted([*kept, "f.txt", "out", "out/a.txt", f"out/{MARKER_FILE}"])
    finally:
        live.kill()
        live.wait()


def test_a_kill_between_the_two_renames_of_overwrite_restores_the_previous_output(tmp_path):
    out = tmp_path / "run"
    make_output(out, {"metrics.json": "previous"})
    dead = dead_pid()
    # --overwrite moves out aside, then renames the new output in; a kill -9 between the two leaves:
    old = tmp_path / f"run.old-{temporary_owner(dead)}-0123abcd"
    old.mkdir()
    out.rename(old / "run")
    make_output(tmp_path / "new", {"metrics.json": "new"})
    (tmp_path / "new").rename(tmp_path / f"run.tmp-{temporary_owner(dead)}-4567cdef")
    with pytest.raises(FileExistsError, match="already exists; pass --overwrite"):
        check_output_directory(out, overwrite=False)  # the next run on the same --out
    assert siblings(out) == ["run"] and (out / "metrics.json").read_text() == "previous"


def test_a_resumed_training_removes_temporaries_of_a_killed_run(tmp_path):
    texts, labels = [text for _, text in ROWS], [label for label, _ in ROWS]
    clf = TextClassifier("bow", out_dir=tmp_path, epochs=1, device="cpu", valid_split=0)
    clf.fit(texts, labels)
    dead = dead_pid()
    stale = [f".checkpoint.pt.{temporary_owner(dead)}-abcd_123.tmp", f".history.jsonl.{temporary_owner(dead)}-x1y2z3w4.tmp"]
    for name in stale:
        (tmp_path / name).write_bytes(b"half")
    (tmp_path / "notes.txt").write_text("mine")
    clf.fit(texts, labels, resume=True)  # a finished run: returns at once, writes nothing
    assert tree(tmp_path) == ["checkpoint.pt", "history.jsonl", "notes.txt"]


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr is not installed")
def test_a_resumed_ocr_removes_temporaries_of_a_killed_run_and_nothing_else(tmp_path):
    from PIL import Image, ImageDraw

    from textkit.ocr import SETTINGS_FILE, ocr

    (tmp_path / "scans" / "a").mkdir(parents=True)
    image = Image.new("L", (600, 200), 255)
    ImageDraw.Draw(image).text((100, 80), "INVOICE", fill=0)
    image.save(tmp_path / "scans" / "a" / "one.png")
    out = tmp_path / "out"
    ocr([tmp_path / "scans"], out, progress=False, num_proc=1)
    dead = dead_pid()
    (out / "a" / "one.tsv").unlink()  # killed while writing it: no TSV, a temporary beside it
    stale = [f"a/.one.tsv.{temporary_owner(dead)}-abcd_123.tmp", f".gone.tsv.{temporary_owner(dead)}-abcd_123.tmp"]
    for name in stale:
        (out / name).write_bytes(b"half")
    mine = ["notes.txt", "a/.draft.tmp", "a/old.tsv"]
    for name in mine:
        (out / name).write_text("mine")
    report = ocr([tmp_path / "scans"], out, progress=False, num_proc=1)
    assert report["done"] == 1
    assert tree(out) == sorted([SETTINGS_FILE, "a", "a/one.tsv", *mine])


# ---------------------------------------------------------------- file modes

@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_every_output_gets_the_mode_the_umask_gives(tmp_path, umask, file_mode, dir_mode):
    """Model files were 0600 (atomic writes start private) while the rest were 0644."""
    train = write_csv(tmp_path / "train.csv", ROWS)
    before = os.umask(umask)
    try:
        assert main(["train", "--train", str(train), "--test", str(train), *FAST, "--out", str(tmp_path / "run")]) == 0
        assert main(["preprocess", str(train), "--out", str(tmp_path / "prep"), "--num-proc", "1"]) == 0
    finally:
        os.umask(before)
    for out in (tmp_path / "run", tmp_path / "prep"):
        modes = {p.relative_to(out).as_posix(): p.stat().st_mode & 0o777 for p in [out, *out.rglob("*")]}
        assert modes == {name: dir_mode if (out / name).is_dir() else file_mode for name in modes}, modes
        assert "model/model.safetensors" in modes or out.name == "prep"
