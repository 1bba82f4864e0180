"""Registered corpora, where they are found, seeded splits, and counts on the real data.

The real corpora are the read-only ``shared/corpora`` folder beside the repository (CI runs a
clean clone with ``../shared`` next to it), reached through ``TEXTKIT_DATA``. The hub is never
contacted: offline mode is forced and sockets are blocked where a test reaches that code.
"""
import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # before `datasets` is imported anywhere
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import re
import shutil
import socket
from collections import Counter
from pathlib import Path

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from textkit.corpora import (BUNDLED, SPLITS, CorpusError, get_card, kfold, list_corpora,
                             load_corpus, stratified_split)
from textkit.formats import DOCUMENT_FORMATS, FORMATS
from textkit.registry import CARDS

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared corpora not found at {SHARED}")


@pytest.fixture
def shared(monkeypatch):
    monkeypatch.setenv("TEXTKIT_DATA", str(SHARED))


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network is off in tests")
    monkeypatch.setattr(socket.socket, "connect", refuse)


def counts(ds):
    names = ds.features["label"].names
    return {names[k]: n for k, n in Counter(ds["label"]).items()}


def sizes(dd):
    return {k: len(v) for k, v in dd.items()}


# ---------------------------------------------------------------- registry

def test_cards_are_consistent():
    assert {"trec", "sst2", "sst5", "mr", "subj", "cr", "mpqa", "ag_news", "imdb", "20newsgroups",
            "sms_spam", "yelp_polarity", "dbpedia"} <= set(CARDS)
    for card in CARDS.values():
        assert len(set(card.classes)) == len(card.classes) >= 2, card.name
        assert set(card.sizes) <= set(SPLITS) and card.format in (*FORMATS, *DOCUMENT_FORMATS), card.name
        assert card.fixed_split == ("test" in card.sizes), card.name  # CV corpora come whole
        if not isinstance(card.files, str):
            assert set(card.files) == set(card.sizes), card.name
        if card.label_map:
            assert set(card.label_map.values()) == set(card.classes), card.name
        assert card.citation and card.protocol, card.name
        assert bool(card.references) == bool(card.reference_source), card.name
        if card.hub:
            assert set(card.hub.splits.values()) <= set(SPLITS), card.name


@pytest.mark.parametrize("name, numbers", [
    ("trec", (91.2, 92.8, 93.6, 92.2)), ("sst2", (82.7, 86.8, 87.2, 88.1)),
    ("mr", (76.1, 81.0, 81.5, 81.1)), ("subj", (89.6, 93.0, 93.4, 93.2)),
    ("sst5", (45.0, 45.5, 48.0, 47.4)), ("cr", (79.8, 84.7, 84.3, 85.0)),
    ("mpqa", (83.4, 89.6, 89.5, 89.4)),
])
def test_kim_2014_reference_numbers(name, numbers):
    card = get_card(name)
    models = ("CNN-rand", "CNN-static", "CNN-non-static", "CNN-multichannel")
    assert tuple(card.references[m] for m in models) == numbers
    assert "Kim" in card.reference_source and "Table 2" in card.reference_source


def test_fasttext_reference_numbers_and_no_invented_ones():
    assert {n: get_card(n).references["fastText bigram"] for n in ("ag_news", "yelp_polarity", "dbpedia")} \
        == {"ag_news": 92.5, "yelp_polarity": 95.7, "dbpedia": 98.6}
    assert not get_card("imdb").references and not get_card("20newsgroups").references


def test_corpora_readme_table_matches_the_registry():
    readme = (Path(__file__).resolve().parents[1] / "corpora" / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(" `"): line for line in readme.splitlines()
            if line.startswith("| `") and line.count("|") == 6}
    assert set(rows) == set(CARDS)
    for name, card in CARDS.items():
        assert [f"{v:.1f}" for v in card.references.values()] == \
            re.findall(r"\d+\.\d", rows[name].split("|")[5]), name


def test_names_aliases_and_suggestions():
    assert get_card("SST-1").name == "sst5" and get_card("20NG").name == "20newsgroups"
    with pytest.raises(CorpusError, match=r"unknown corpus 'imbd'.*did you mean 'imdb'\?"):
        load_corpus("imbd")
    with pytest.raises(CorpusError, match=r"unknown corpus 'tre'.*did you mean 'trec'"):
        get_card("tre")


def test_format_options_are_refused_for_registered_corpora():
    with pytest.raises(CorpusError, match=r"text_column applies to files, not to the registered corpus 'trec'"):
        load_corpus("trec", text_column=1)


# ---------------------------------------------------------------- where corpora are found

def test_bundled_trec_and_sst2_load_without_textkit_data(monkeypatch):
    monkeypatch.delenv("TEXTKIT_DATA", raising=False)
    trec = load_corpus("trec", valid_fraction=0)
    assert sizes(trec) == {"train": 5452, "test": 500}
    assert trec["train"].features["label"] == ClassLabel(names=["DESC", "ENTY", "ABBR", "HUM", "LOC", "NUM"])
    assert "sister\xf0city" in " ".join(trec["train"]["text"])  # the one 0xF0 byte, read as latin-1
    assert sizes(load_corpus("sst2")) == {"train": 6920, "valid": 872, "test": 1821}
    assert "Li and Dan Roth" in trec["test"].info.citation
    found = {c["name"]: c["found"] for c in list_corpora()}
    assert found["trec"] == found["sst2"] == "bundled" and found["cr"] == "missing"
    assert found["imdb"] == "hub"


@needs_shared
def test_bundled_copies_equal_the_shared_files():
    for name, files in (("trec", ["TREC.train.all", "TREC.test.all"]),
                        ("sst2", ["stsa.binary.train", "stsa.binary.dev", "stsa.binary.test"])):
        for f in files:
            assert (BUNDLED / name / f).read_bytes() == (SHARED / name / f).read_bytes(), f
        assert (BUNDLED / name / "SOURCE.md").is_file()
    assert (BUNDLED / "sst2" / "trees.train.txt").read_bytes() == (SHARED / "sst_trees" / "train.txt").read_bytes()


def test_sst2_training_phrases_are_kims_77616_with_the_sentence_class_ids(monkeypatch):
    monkeypatch.delenv("TEXTKIT_DATA", raising=False)  # the bundled tree file
    from textkit.corpora import load_training_phrases

    phrases = load_training_phrases("sst2")
    sentences = load_corpus("sst2")
    assert len(phrases) == 77_616 and phrases.features["label"] == sentences["train"].features["label"]
    pairs = {(text.lower(), label) for text, label in zip(phrases["text"], phrases["label"])}
    # the training sentences are among the phrases, with the same class ids (the trees keep the case)
    found = sum((text, label) in pairs for text, label in zip(sentences["train"]["text"], sentences["train"]["label"]))
    assert found >= 0.95 * len(sentences["train"])
    with pytest.raises(CorpusError, match=r"corpus 'trec' has no training phrases: only sst2 have them"):
        load_training_phrases("trec")


@needs_shared
def test_list_corpora_reports_local_partial_and_missing(shared):
    by_name = {c["name"]: c for c in list_corpora()}
    assert by_name["mr"]["found"] == "TEXTKIT_DATA" and by_name["mr"]["location"] == str(SHARED / "mr")
    assert by_name["sst5"]["location"] == str(SHARED / "sst_trees")
    assert by_name["ag_news"]["missing_files"] == ["train.csv"]
    assert by_name["mpqa"] == {**by_name["mpqa"], "found": "missing", "location": None}


@needs_shared
def test_data_dir_is_used_alone(tmp_path, shared):
    shutil.copy(SHARED / "trec" / "TREC.test.all", tmp_path)
    dd = load_corpus("trec", data_dir=tmp_path, split="test")
    assert sizes(dd) == {"test": 500}
    with pytest.raises(CorpusError, match=r"corpus 'trec': .* lacks TREC\.train\.all; add it or pass split="):
        load_corpus("trec", data_dir=tmp_path)
    with pytest.raises(CorpusError, match=r"corpus 'mr': data_dir .*nowhere is not a folder; pass the folder "
                                          r"holding rt-polarity\.all$"):
        load_corpus("mr", data_dir=tmp_path / "nowhere")


def test_offline_hub_error_is_one_line_and_says_where_it_looked(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TEXTKIT_DATA", str(tmp_path))
    with pytest.raises(CorpusError) as err:
        load_corpus("dbpedia")
    message = str(err.value)
    assert "\n" not in message
    assert f"looked in {tmp_path / 'dbpedia'}, {tmp_path / 'dbpedia_csv'}" in message
    assert "hub 'fancyzhx/dbpedia_14' failed" in message and "TEXTKIT_DATA/dbpedia/" in message
    with pytest.raises(CorpusError, match=r"corpus 'cr' not found: looked in .*cr, and it has no hub copy"):
        load_corpus("cr")


def test_hub_retry_warnings_do_not_bury_the_one_line_error(tmp_path, monkeypatch, capfd):
    # offline, huggingface_hub logs "Retrying in 1s [Retry 1/5]" and friends before failing
    import logging

    import datasets

    def offline_load_dataset(repo, config=None):
        logging.getLogger("huggingface_hub.utils._http").warning("Retrying in 1s [Retry 1/5].")
        raise ConnectionError(f"Couldn't reach {repo!r} on the Hub (LocalEntryNotFoundError)")

    logging.getLogger().addHandler(handler := logging.StreamHandler())  # as if logging were set up
    level = logging.getLogger("huggingface_hub").level
    monkeypatch.setattr(datasets, "load_dataset", offline_load_dataset)
    monkeypatch.setenv("TEXTKIT_DATA", str(tmp_path))
    try:
        with pytest.raises(CorpusError, match=r"hub 'fancyzhx/dbpedia_14' failed \(ConnectionError"):
            load_corpus("dbpedia")
    finally:
        logging.getLogger().removeHandler(handler)
    assert "Retrying" not in capfd.readouterr().err
    assert logging.getLogger("huggingface_hub").level == level  # restored


def test_hub_rows_are_mapped_to_our_columns_and_class_names(tmp_path, monkeypatch):
    # the real hub code path, with `datasets.load_dataset` answering from memory
    calls = []

    def fake_load_dataset(repo, config=None):
        calls.append((repo, config))
        names = ["1", "2"] if repo == "fancyzhx/yelp_polarity" else ["Company", "Mystery"]
        feats = Features({"text": Value("string"), "title": Value("string"), "content": Value("string"),
                          "label": ClassLabel(names=names)})
        ds = Dataset.from_dict({"text": ["a", "b", "c"], "title": ["t1", "t2", "t3"],
                                "content": ["c1", "", "c3"], "label": [0, 1, 0]}, features=feats)
        return DatasetDict({"train": ds, "test": ds.select([0]), "unsupervised": ds})

    import datasets
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    monkeypatch.setenv("TEXTKIT_DATA", str(tmp_path))
    dd = load_corpus("yelp_polarity", valid_fraction=0)  # hub ClassLabel "1"/"2" -> negative/positive
    assert calls == [("fancyzhx/yelp_polarity", None)]
    assert sizes(dd) == {"train": 3, "test": 1}
    assert dd["train"].features["label"].names == ["negative", "positive"]
    assert dd["train"]["label"] == [0, 1, 0] and dd["test"]["text"] == ["a"]
    dd = load_corpus("dbpedia", split="test")  # two text columns joined, empty parts skipped
    assert dd["test"]["text"] == ["t1 c1"] and dd["test"].features["label"].names[0] == "Company"
    with pytest.raises(CorpusError, match=r"hub:fancyzhx/dbpedia_14\[train\], row 2: label 'Mystery' is not one"):
        load_corpus("dbpedia")  # a class the card does not know is refused, not guessed


# ---------------------------------------------------------------- seeded splits

def toy(n_per_class=(50, 30, 7)):
    labels = [c for c, n in enumerate(n_per_class) for _ in range(n)]
    feats = Features({"text": Value("string"), "label": ClassLabel(names=["a", "b", "c"])})
    return Dataset.from_dict({"text": [str(i) for i in range(len(labels))], "label": labels}, features=feats)


def test_stratified_split_is_seeded_stratified_and_disjoint():
    ds = toy()
    rest, held = stratified_split(ds, 0.2, seed=3)
    again_rest, again_held = stratified_split(ds, 0.2, seed=3)
    assert held["text"] == again_held["text"] and rest["text"] == again_rest["text"]
    assert held["text"] != stratified_split(ds, 0.2, seed=4)[1]["text"]
    assert len(held) == round(0.2 * len(ds)) == 17
    assert sorted(Counter(held["label"]).values()) == [1, 6, 10]  # 7*.2=1.4, 30*.2=6, 50*.2=10
    assert not set(held["text"]) & set(rest["text"])
    assert sorted([*held["text"], *rest["text"]], key=int) == list(ds["text"])
    assert list(rest["text"]) == sorted(rest["text"], key=int)  # original order kept
    with pytest.raises(CorpusError, match=r"fraction must be in \(0, 1\), got 1\.5"):
        stratified_split(ds, 1.5)


def test_kfold_covers_every_row_once_with_balanced_folds():
    ds = toy()
    folds = kfold(ds, 10, seed=0)
    assert len(folds) == 10
    tests = [set(test["text"]) for _, test in folds]
    assert sum(len(t) for t in tests) == len(ds) and set().union(*tests) == set(ds["text"])
    assert max(map(len, tests)) - min(map(len, tests)) <= 1
    for c in range(3):
        per_class = [Counter(test["label"])[c] for _, test in folds]
        assert max(per_class) - min(per_class) <= 1
    for train, test in folds:
        assert not set(train["text"]) & set(test["text"]) and len(train) + len(test) == len(ds)
    assert [t["text"] for _, t in kfold(ds, 10, seed=0)] == [t["text"] for _, t in folds]
    assert [t["text"] for _, t in kfold(ds, 10, seed=1)] != [t["text"] for _, t in folds]
    with pytest.raises(CorpusError, match=r"one split, e\.g\. corpus\['train'\]"):
        kfold(DatasetDict({"train": ds}), 10)


# ---------------------------------------------------------------- the real corpora

@needs_shared
def test_trec_counts_and_default_valid(shared):
    dd = load_corpus("trec", valid_fraction=0)
    assert sizes(dd) == {"train": 5452, "test": 500}
    assert counts(dd["train"]) == {"DESC": 1162, "ENTY": 1250, "ABBR": 86, "HUM": 1223, "LOC": 835, "NUM": 896}
    assert counts(dd["test"]) == {"DESC": 138, "ENTY": 94, "ABBR": 9, "HUM": 65, "LOC": 81, "NUM": 113}
    assert dd["test"][0] == {"text": "How far is it from Denver to Aspen ?", "label": 5}
    carved = load_corpus("trec")  # Kim 2014: 10% of train held out as dev, stratified
    assert sizes(carved) == {"train": 4907, "valid": 545, "test": 500}
    assert counts(carved["valid"])["ABBR"] == 9
    only_train = load_corpus("trec", split="train")["train"]  # the same carve, whatever split= asks
    assert list(only_train["text"]) == list(carved["train"]["text"])
    assert list(load_corpus("trec", split="valid")["valid"]["text"]) == list(carved["valid"]["text"])


@needs_shared
def test_sst_counts(shared):
    sst2 = load_corpus("sst2")
    assert sizes(sst2) == {"train": 6920, "valid": 872, "test": 1821}
    assert counts(sst2["train"]) == {"negative": 3310, "positive": 3610}
    assert counts(sst2["test"]) == {"negative": 912, "positive": 909}
    sst5 = load_corpus("sst5")
    assert sizes(sst5) == {"train": 8544, "valid": 1101, "test": 2210}
    assert [counts(sst5["train"])[n] for n in sst5["train"].features["label"].names] == [1092, 2218, 1624, 2322, 1288]
    assert sst5["train"][0]["text"].startswith("The Rock is destined to be the 21st Century 's new `` Conan ''")


@needs_shared
def test_mr_and_subj_come_whole_for_cross_validation(shared):
    mr = load_corpus("mr")
    assert sizes(mr) == {"train": 10662} and counts(mr["train"]) == {"negative": 5331, "positive": 5331}
    text = " ".join(mr["train"]["text"])
    assert "\x85" not in text and "…" in text and "é" in text  # cp1252, not latin-1
    subj = load_corpus("subj")
    assert sizes(subj) == {"train": 10000} and counts(subj["train"]) == {"subjective": 5000, "objective": 5000}
    assert subj["train"][0]["label"] == 0 and subj["train"][0]["text"].startswith("smart and alert")
    folds = kfold(mr["train"], 10, seed=0)
    assert {len(test) for _, test in folds} == {1066, 1067}


@needs_shared
def test_ag_news_test_only(shared):
    with pytest.raises(CorpusError, match=r"corpus 'ag_news': .*ag_news lacks train\.csv"):
        load_corpus("ag_news")
    ag = load_corpus("ag_news", split="test")["test"]
    assert counts(ag) == {"World": 1900, "Sports": 1900, "Business": 1900, "Sci/Tech": 1900}
    assert ag[0] == {"text": "Fears for T N pension after talks Unions representing workers at Turner   "
                             "Newall say they are 'disappointed' after talks with stricken parent firm "
                             "Federal Mogul.", "label": 2}


@needs_shared
def test_20newsgroups_from_the_archive(shared):
    dd = load_corpus("20newsgroups", valid_fraction=0)
    assert sizes(dd) == {"train": 11314, "test": 7532}
    assert len(dd["train"].features["label"].names) == 20
    assert counts(dd["train"])["alt.atheism"] == 480 and counts(dd["test"])["talk.religion.misc"] == 251
    assert dd["train"][0]["text"].startswith("From: ")


@needs_shared
def test_imdb_from_the_archive(shared):
    dd = load_corpus("imdb", valid_fraction=0)
    assert sizes(dd) == {"train": 25000, "test": 25000}
    assert counts(dd["train"]) == counts(dd["test"]) == {"neg": 12500, "pos": 12500}
    assert "<br /><br />" in " ".join(dd["test"]["text"][:200])


def test_the_reading_limits_apply_to_files_and_registered_corpora(tmp_path):
    path = tmp_path / "a.all"
    path.write_text("pos a long enough line\nneg short\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"a.all, line 1: longer than 10 characters \(max_record_chars\)"):
        load_corpus(path, max_record_chars=10)
    assert load_corpus(path, max_record_chars=100, valid_fraction=0)["train"].num_rows == 2
    with pytest.raises(CorpusError, match=r"TREC.train.all, line 1: longer than 12 characters"):
        load_corpus("trec", max_record_chars=12)
    with pytest.raises(CorpusError, match=r"max_member_bytes=0: expected a whole number >= 1"):
        load_corpus(path, max_member_bytes=0)
