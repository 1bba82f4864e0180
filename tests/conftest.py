"""Tiny corpora and helpers shared by the test files (fixtures only; nothing autouse)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config) -> None:
    """load_corpus caches Arrow copies of the files it reads: the tests' go to a folder of their
    own (the CLI's subprocesses inherit it), removed at the end, not to the user's ~/.cache."""
    os.environ["HF_DATASETS_CACHE"] = config._textkit_hf_cache = tempfile.mkdtemp(prefix="textkit-tests-hf-")


def pytest_unconfigure(config) -> None:
    shutil.rmtree(getattr(config, "_textkit_hf_cache", ""), ignore_errors=True)


@pytest.fixture
def tiny_texts() -> list[str]:
    """Six short training texts, two classes, with the mess real reviews have."""
    return [
        "Great movie, I loved it!",
        "Terrible plot. I hated it...",
        "GREAT acting <br />and great fun",
        "Boring, boring, boring. Sooooo slow",
        "Loved the music &amp; the actors",
        "Awful: see https://example.com/review?id=1 for why",
    ]


@pytest.fixture
def tiny_labels() -> list[int]:
    """Labels for ``tiny_texts`` (1 = positive, 0 = negative)."""
    return [1, 0, 1, 0, 1, 0]


@pytest.fixture
def messy_review() -> str:
    """One review with every kind of noise the default cleaner handles."""
    return (
        "I LOVED this movie!!! Sooooo good<br /><br />The cast is amazing &amp; the plot "
        "doesnÃ¢â‚¬â„¢t disappoint \x96 10/10 \U0001F60D\u200b "
        "Trailer: https://imdb.com/title/tt0111161?ref=x or mail fan@movies.org, cc @director #MustWatch "
        "\ufb01lm \uff27\uff32\uff25\uff21\uff34 caf\u00e9"
    )


@pytest.fixture
def run_python():
    """Run ``code`` in a fresh interpreter (the repository importable) and return its stdout.

    For what one process cannot show: import side effects, hash salting across processes.
    """

    def run(code: str, **env: str) -> str:
        path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        environ = {**os.environ, "PYTHONPATH": path, **env}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ,
                              cwd=REPO_ROOT, timeout=120)
        assert done.returncode == 0, f"subprocess failed:\n{done.stderr}"
        return done.stdout

    return run


@pytest.fixture
def redigest():
    """``redigest(model_dir)`` records in ``config.json`` the digests a save would write for the
    files as they are now: how a test reaches the checks behind the digests (damage made on
    purpose, digests and all)."""
    import hashlib
    import json

    from textkit.fileio import json_sha256

    def run(directory: Path) -> None:
        directory = Path(directory)
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        if "weights_sha256" not in config:
            return  # saved before digests: nothing to record
        config["weights_sha256"] = hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()
        config["pipeline_sha256"] = json_sha256(json.loads((directory / "pipeline.json").read_text(encoding="utf-8")))
        config["config_sha256"] = json_sha256({k: v for k, v in config.items() if k != "config_sha256"})
        (directory / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")

    return run


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``): as
    fast as two for tiny models on an idle 2-core machine, and it does not collapse when other
    processes share the cores (two spinning threads ran 4-5x slower)."""
    from textkit.threads import torch_threads

    with torch_threads(1):
        yield
