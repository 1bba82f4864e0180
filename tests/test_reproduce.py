"""scripts/reproduce.py end to end on a tiny slice (--quick): the table and the tuning mode."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import reproduce  # noqa: E402  (scripts/ is not a package)
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


def test_valid_only_never_scores_the_test_split(data, tmp_path, capsys):
    out = tmp_path / "runs.json"
    assert reproduce.main([*data, "--quick", "--datasets", "trec", "--models", "bow", "--valid-only",
                           "--out", str(out)]) == 0
    assert "valid accuracy % (mean over runs)" in capsys.readouterr().out
    runs = json.loads(out.read_text())["runs"]
    assert all("accuracy" not in r and 0 <= r["valid_accuracy"] <= 1 for r in runs)
