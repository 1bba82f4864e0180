"""scripts/reproduce.py end to end on a tiny slice (--quick): the table and the tuning mode."""
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import reproduce  # noqa: E402  (scripts/ is not a package)
from textkit.recipes import recipe_for  # noqa: E402
SHARED = ROOT.parent / "shared" / "corpora"


@pytest.fixture
def data() -> list[str]:
    if not SHARED.is_dir():
        pytest.skip(f"shared corpora not found at {SHARED}")
    return ["--data", str(SHARED)]


def test_quick_run_writes_the_table_and_every_run(data, tmp_path, capsys):
    out = tmp_path / "runs.json"
    assert reproduce.main([*data, "--quick", "--datasets", "trec", "--models", "bow", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| TREC | train/test × 1 seed |" in table and "| 91.2 |" in table  # Kim's CNN-rand, from the card
    runs = json.loads(out.read_text())["runs"]
    assert [r["model"] for r in runs] == ["bow", "tfidf-lr"]
    assert all(0 <= r["accuracy"] <= 1 for r in runs) and runs[0]["best_epoch"] >= 1


def test_valid_only_replays_the_protocol_without_the_test_split(data, tmp_path, capsys, monkeypatch):
    real_runs_of = reproduce.runs_of

    def runs_with_marked_test_texts(*args, **kwargs):
        runs = real_runs_of(*args, **kwargs)
        for run in runs:
            run["test"] = (["TEST " + text for text in run["test"][0]], run["test"][1])
        return runs

    fitted = []  # every run a model was fitted and scored on

    def spy(fit):
        def wrapped(*args, **kwargs):
            fitted.append(next(a for a in args if isinstance(a, dict) and "test" in a))
            return fit(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(reproduce, "runs_of", runs_with_marked_test_texts)
    monkeypatch.setattr(reproduce, "run_textkit", spy(reproduce.run_textkit))
    monkeypatch.setattr(reproduce, "run_linear", spy(reproduce.run_linear))
    out = tmp_path / "runs.json"
    assert reproduce.main([*data, "--quick", "--datasets", "trec", "sst2", "--models", "bow", "--valid-only",
                           "--out", str(out)]) == 0
    assert "accuracy % on valid, protocol replayed" in capsys.readouterr().out
    assert len(fitted) == 6  # TREC: one run; SST-2: its dev set halved, each half scored once; x2 models
    assert not any(text.startswith("TEST ") for run in fitted for part in ("train", "valid", "test")
                   for text in run[part][0])
    sst2 = [run for run in fitted if run["dataset"] == "sst2"]
    assert sst2[0]["valid"] == sst2[-1]["test"] and sst2[0]["test"] == sst2[-1]["valid"]  # halves swap roles
    runs = json.loads(out.read_text())["runs"]
    assert [(r["dataset"], r.get("half")) for r in runs if r["model"] == "bow"] == \
        [("trec", None), ("sst2", 0), ("sst2", 1)]
    assert all(0 <= r["accuracy"] <= 1 for r in runs)


def test_first_seed_runs_the_seeds_after_it(data, tmp_path):
    out = tmp_path / "runs.json"
    assert reproduce.main([*data, "--quick", "--datasets", "trec", "--models", "bow", "--no-linear",
                           "--first-seed", "2", "--out", str(out)]) == 0
    assert [(r["model"], r["seed"]) for r in json.loads(out.read_text())["runs"]] == [("bow", 2)]
    with pytest.raises(SystemExit):
        reproduce.main([*data, "--first-seed", "-1"])


def test_met_column_shows_the_paired_margin_over_the_baseline():
    def run(model, seed, accuracy):
        return dict(dataset="imdb", model=model, seed=seed, fold=None, accuracy=accuracy)

    records = [run("bow", 0, 0.910), run("tfidf-lr", 0, 0.900), run("bow", 1, 0.915), run("tfidf-lr", 1, 0.895)]
    row = reproduce.make_table(records).splitlines()[-1]
    assert row.endswith("| yes (bow: +1.50 ± 0.50 vs LR, paired over 2 runs) |")  # diffs 1.0 and 2.0 points
    records[0]["accuracy"] = 0.870  # bow mean 89.25 vs 89.75
    assert reproduce.make_table(records).splitlines()[-1].endswith("| NO (bow: -0.50 vs LR) |")


def test_readme_recipe_example_is_the_mr_rows_recipe():
    # The README's `--recipe` example claims to be the MR row's bow; keep it from going stale.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"the MR row's bow of the reproduction table below:\s*`(\{.*?\})`", readme, re.S)
    assert match, "README no longer shows the MR row's recipe"
    shown = json.loads(match.group(1))
    recipe = json.loads(json.dumps(recipe_for("bow", "mr")))  # tuples -> lists, as JSON has them
    recipe["train"].pop("optimizer")  # "adamw" is TrainConfig's default, so the README leaves it out
    assert shown == recipe


def test_models_with_no_name_runs_the_baseline_alone(data, tmp_path, capsys):
    out = tmp_path / "runs.json"
    assert reproduce.main([*data, "--quick", "--datasets", "trec", "--models", "--out", str(out)]) == 0
    assert [r["model"] for r in json.loads(out.read_text())["runs"]] == ["tfidf-lr"]
    with pytest.raises(SystemExit) as exit_info:
        reproduce.main([*data, "--datasets", "trec", "--models", "--no-linear"])
    assert exit_info.value.code == 2
    assert "nothing to run" in capsys.readouterr().err


def test_a_mix_averages_its_members_probabilities():
    run = dict(test=(["a", "b", "c"], ["x", "y", "y"]))
    bow = dict(proba=(np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]), ["x", "y"]), best_epoch=3, valid_accuracy=0.8,
               seconds=1.0)
    cnn = dict(proba=(np.array([[0.4, 0.6], [0.1, 0.9], [0.3, 0.7]]), ["x", "y"]), best_epoch=5, valid_accuracy=0.9,
               seconds=2.0)
    result = reproduce.run_mix({"bow": bow, "cnn": cnn}, run)
    # means: x 0.65, y 0.75, y 0.75 -> all right, where bow alone misses "b" and cnn alone misses "a"
    assert result["accuracy"] == 1.0 and result["best_epoch"] == {"bow": 3, "cnn": 5}
    assert result["seconds"] == 3.0 and result["valid_accuracy"] == {"bow": 0.8, "cnn": 0.9}
    cnn["proba"] = (cnn["proba"][0], ["y", "x"])
    with pytest.raises(ValueError, match="different classes"):
        reproduce.run_mix({"bow": bow, "cnn": cnn}, run)


def test_a_mix_reuses_the_members_the_row_trains(data, tmp_path, capsys, monkeypatch):
    trained = []

    def fake_run_textkit(model, recipe, run, quick, device="cpu", keep_proba=False):
        assert keep_proba  # both are members of the mix
        trained.append(model)
        classes = sorted(set(run["train"][1]))
        right = np.eye(len(classes))[[classes.index(y) for y in run["test"][1]]]
        proba = right if model == "cnn" else np.full_like(right, 1 / len(classes))
        return dict(accuracy=float(model == "cnn"), macro_f1=0.0, best_epoch=2, valid_accuracy=0.5,
                    proba=(proba, classes))

    monkeypatch.setattr(reproduce, "run_textkit", fake_run_textkit)
    out = tmp_path / "runs.json"
    assert reproduce.main([*data, "--quick", "--datasets", "trec", "--models", "bow+cnn", "bow", "--no-linear",
                           "--out", str(out)]) == 0
    assert trained == ["bow", "cnn"]  # bow once, for itself and for the mix; cnn for the mix alone
    runs = json.loads(out.read_text())["runs"]
    assert [r["model"] for r in runs] == ["bow", "bow+cnn"]  # a mix after the single models
    assert runs[1]["accuracy"] == 1.0 and "proba" not in runs[1]
    assert "| textkit bow | textkit bow+cnn |" in capsys.readouterr().out
    for wrong in ("bow+bow", "bow+svm"):
        with pytest.raises(SystemExit) as exit_info:
            reproduce.main([*data, "--datasets", "trec", "--models", wrong])
        assert exit_info.value.code == 2
    assert "a mix of different ones joined by '+'" in capsys.readouterr().err


def test_20newsgroups_replays_on_its_latest_training_posts(tmp_path):
    """The by-date replay: each group's latest posts (article numbers from the archive's file
    names) are its test split, the valid split comes from the earlier rest, nothing is lost."""
    import io
    import tarfile

    archive = tmp_path / "20news-bydate.tar.gz"
    posts = [(group, 1000 + 7 * n if group == "sci.space" else 50 - n, f"{group} post {n}")
             for group in ("alt.atheism", "sci.space") for n in range(20)]
    with tarfile.open(archive, "w:gz") as tar:
        for split in ("train", "test"):
            for group, number, text in posts:
                data = text.encode("latin-1")
                info = tarfile.TarInfo(f"20news-bydate-{split}/{group}/{number}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    groups = ["alt.atheism", "sci.space"]
    texts, labels = [text for _, _, text in posts], [groups.index(group) for group, _, _ in posts]
    posted = reproduce.posting_order(archive, texts, labels, groups)
    assert posted[0, "alt.atheism post 3"] == (3, 47) and posted[1, "sci.space post 3"] == (23, 1021)

    run = dict(dataset="20newsgroups", seed=0, fold=None, train=(texts[5:], labels[5:]), valid=(texts[:5], labels[:5]),
               test=(["a later post"], [0]), posted=posted)
    (replay,) = reproduce.replayed_on_valid(run)
    # atheism's numbers fall as n grows (its latest posts are n=0, 1), space's rise (n=18, 19)
    assert replay["test"] == (["alt.atheism post 0", "alt.atheism post 1", "sci.space post 18",
                               "sci.space post 19"], [0, 0, 1, 1])
    kept = replay["train"][0] + replay["valid"][0]
    assert sorted(kept + replay["test"][0]) == sorted(texts) and len(replay["valid"][0]) == 4
    assert "a later post" not in kept + replay["test"][0]
    with pytest.raises(SystemExit, match="article numbers"):
        reproduce.replayed_on_valid({k: v for k, v in run.items() if k != "posted"})
