"""Every file format end to end through ``load_corpus``, and every bad input it must refuse.

All files are written here, in tmp_path; nothing touches the network.
"""
import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # before `datasets` is imported anywhere
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import io
import json
import tarfile
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datasets import ClassLabel, Dataset

from textkit.corpora import CorpusError, load_corpus

# (label, text): 3 classes; texts with commas, quotes and non-ASCII to stress quoting/encoding
ROWS = [("pos", "a fine, \"warm\" film"), ("neg", "dull"), ("pos", "café au lait"),
        ("neu", "it exists"), ("neg", "not good, not bad"), ("neu", "okay")]


def as_pairs(ds):
    names = ds.features["label"].names
    return [(names[label], text) for text, label in zip(ds["text"], ds["label"])]


def load_all(path, **kw):
    """One split, no valid carved: the rows exactly as read."""
    return load_corpus(path, valid_fraction=0, **kw)["train"]


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def make_tree(root):
    for i, (label, text) in enumerate(ROWS):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{i}.txt").write_text(text, encoding="utf-8")
    return root


# ---------------------------------------------------------------- each format end to end

def test_label_text_rows_in_file_order_and_sorted_class_names(tmp_path):
    path = write(tmp_path / "c.all", "".join(f"{l} {t}\n" for l, t in ROWS))
    ds = load_all(path)
    assert as_pairs(ds) == ROWS
    assert ds.features["label"].names == ["neg", "neu", "pos"]
    assert ds.features["text"].dtype == "string"


def test_label_text_numeric_labels_sort_numerically_and_map_to_names(tmp_path):
    path = write(tmp_path / "c.txt", "10 ten\n9 nine\n2 two\n")
    assert load_all(path).features["label"].names == ["2", "9", "10"]
    path = write(tmp_path / "d.txt", "0 bad\n1 good\n1 fine\n")
    ds = load_all(path, label_names=["negative", "positive"])  # 0-based index into the names
    assert as_pairs(ds) == [("negative", "bad"), ("positive", "good"), ("positive", "fine")]
    ds = load_all(path, label_names={"1": "yes", "0": "no"})  # mapping: its order is the class order
    assert ds.features["label"].names == ["yes", "no"] and ds["label"] == [1, 0, 0]


def test_csv_with_header_default_columns_and_bom(tmp_path):
    body = "label,text\n" + "".join(f'{l},"{t.replace(chr(34), 2 * chr(34))}"\n' for l, t in ROWS)
    path = write(tmp_path / "c.csv", "\ufeff" + body)  # Excel's BOM must not rename 'label'
    assert as_pairs(load_all(path)) == ROWS


def test_csv_without_header_several_text_columns_joined(tmp_path):
    # AG News layout: "class","title","description", a quoted field spanning two lines
    path = write(tmp_path / "ag.csv", '"3","Title one","desc, with comma"\n'
                                      '"1","Title two","line one\nline two"\n"1","Only title",""\n')
    ds = load_all(path, label_column=0, text_column=[1, 2])
    assert as_pairs(ds) == [("3", "Title one desc, with comma"), ("1", "Title two line one\nline two"),
                            ("1", "Only title")]
    # no text_column: every other column is text
    assert load_all(path, label_column=0)["text"] == ds["text"]


def test_csv_columns_by_name_pick_and_join(tmp_path):
    path = write(tmp_path / "c.csv", "id,title,body,y\n1,T1,B1,a\n2,T2,B2,b\n")
    ds = load_all(path, label_column="y", text_column=["title", "body"])
    assert as_pairs(ds) == [("a", "T1 B1"), ("b", "T2 B2")]


def test_tsv_is_read_unquoted(tmp_path):
    path = write(tmp_path / "c.tsv", "".join(f"{l}\t{t}\n" for l, t in ROWS))
    assert as_pairs(load_all(path, label_column=0, text_column=1)) == ROWS  # quotes kept verbatim


def test_jsonl(tmp_path):
    lines = [json.dumps({"label": l, "text": t, "extra": 1}) for l, t in ROWS]
    path = write(tmp_path / "c.jsonl", "\n".join(lines) + "\n")
    assert as_pairs(load_all(path)) == ROWS
    path = write(tmp_path / "n.jsonl", '{"y": 1, "a": "x", "b": null}\n{"y": 2, "a": "p", "b": "q"}\n')
    assert as_pairs(load_all(path, label_column="y", text_column=["a", "b"])) == [("1", "x"), ("2", "p q")]


def test_parquet(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"text": [t for _, t in ROWS], "label": [l for l, _ in ROWS]}), path)
    assert as_pairs(load_all(path)) == ROWS
    pq.write_table(pa.table({"s": ["a", "b"], "y": [1, 0]}), tmp_path / "i.parquet")
    assert as_pairs(load_all(tmp_path / "i.parquet", text_column="s", label_column="y")) == [("1", "a"), ("0", "b")]


def test_fasttext_inferred_from_first_line(tmp_path):
    path = write(tmp_path / "c.txt", "".join(f"__label__{l} {t}\n" for l, t in ROWS))
    assert as_pairs(load_all(path)) == ROWS
    assert as_pairs(load_all(path, format="fasttext")) == ROWS


def test_ptb_trees_root_label_and_leaves(tmp_path):
    path = write(tmp_path / "trees.txt", "(3 (2 (2 The) (2 Rock)) (4 (2 is) (4 great)))\n(1 (1 Bad) (2 .))\n")
    ds = load_all(path, format="ptb-trees")
    assert as_pairs(ds) == [("3", "The Rock is great"), ("1", "Bad .")]


def test_ptb_phrases_every_distinct_node_once_and_explicit_drops(tmp_path):
    trees = "(3 (2 (2 The) (2 Rock)) (4 (2 is) (4 great)))\n(1 (1 Bad) (2 (2 The) (2 Rock)))\n"
    path = write(tmp_path / "trees.txt", trees)
    ds = load_all(path, format="ptb-phrases")
    assert as_pairs(ds) == [("2", "The"), ("2", "Rock"), ("2", "The Rock"), ("2", "is"), ("4", "great"),
                            ("4", "is great"), ("3", "The Rock is great"), ("1", "Bad"),
                            ("1", "Bad The Rock")]  # "The Rock" of line 2 is not repeated
    binary = {"0": "negative", "1": "negative", "2": None, "3": "positive", "4": "positive"}
    ds = load_all(path, format="ptb-phrases", label_names=binary)
    assert ds.features["label"].names == ["negative", "positive"]
    assert as_pairs(ds) == [("positive", "great"), ("positive", "is great"),
                            ("positive", "The Rock is great"), ("negative", "Bad"), ("negative", "Bad The Rock")]
    with raises(r"trees\.txt, line 1: label '2' is not one of the classes \['negative', 'positive'\]"):
        load_all(path, format="ptb-phrases", label_names={k: v for k, v in binary.items() if k != "2"})


def test_a_file_loads_memory_mapped_from_cache_dir_and_an_edit_is_read_again(tmp_path):
    path = write(tmp_path / "c.csv", "label,text\n" + "".join(f'{l},"{t.replace(chr(34), 2 * chr(34))}"\n'
                                                            for l, t in ROWS))
    cache = tmp_path / "cache"
    ds = load_corpus(path, valid_fraction=0, cache_dir=cache)["train"]
    assert as_pairs(ds) == ROWS
    files = [f["filename"] for f in ds.cache_files]
    assert files and all(f.startswith(str(cache)) for f in files)  # on disk, memory-mapped: not in RAM
    again = load_corpus(path, valid_fraction=0, cache_dir=cache)["train"]
    assert [f["filename"] for f in again.cache_files] == files  # reused, not rewritten
    write(path, "label,text\npos,only this\nneg,and this\n")  # same path, new content
    edited = load_corpus(path, valid_fraction=0, cache_dir=cache)["train"]
    assert as_pairs(edited) == [("pos", "only this"), ("neg", "and this")]


def test_folders_tar_and_zip_give_the_same_dataset(tmp_path):
    tree = make_tree(tmp_path / "corpus")
    with tarfile.open(tmp_path / "c.tar.gz", "w:gz") as tf:
        tf.add(tree, arcname="corpus")  # one wrapping folder, as archives usually have
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as zf:
        for label, text in reversed(ROWS):  # archive order must not matter
            zf.writestr(f"{label}/{ROWS.index((label, text))}.txt", text)
        zf.writestr("__MACOSX/pos/._0.txt", "resource fork")  # OS litter is not a document
    from_dir = load_all(tree)
    assert sorted(as_pairs(from_dir)) == sorted(ROWS)
    for archive in ("c.tar.gz", "c.zip"):
        ds = load_all(tmp_path / archive)
        assert as_pairs(ds) == as_pairs(from_dir), archive


def test_folder_split_layout_and_class_filter(tmp_path):
    # 20 Newsgroups names its split folders "<name>-train"; READMEs beside the classes are skipped
    # only when label_names says which folders are classes
    root = tmp_path / "news"
    for split, n in (("news-train", 3), ("news-test", 2)):
        for label in ("a", "b"):
            (root / split / label).mkdir(parents=True)
            for i in range(n):
                (root / split / label / str(i)).write_text(f"{split} {label} {i}")
    dd = load_corpus(root, valid_fraction=0)
    assert {k: len(v) for k, v in dd.items()} == {"train": 6, "test": 4}
    (root / "news-train" / "README").write_text("not a document")
    with pytest.raises(CorpusError, match=r"unexpected layout at 'news-train/README'"):
        load_corpus(root)
    (root / "LICENSE").write_text("also not a document")
    dd = load_corpus(root, label_names=["b"], split="test")
    assert list(dd) == ["test"] and dd["test"]["text"] == ["news-test b 0", "news-test b 1"]


def test_encodings_cp1252_and_nel_byte(tmp_path):
    # 0x85 is "…" in cp1252 and U+0085 (a line break for str.splitlines) in latin-1: either way
    # it must stay inside its line
    path = tmp_path / "c.all"
    path.write_bytes(b"0 caf\xe9 \x85 ok\n1 second\n")
    assert as_pairs(load_all(path, encoding="cp1252")) == [("0", "café … ok"), ("1", "second")]
    assert load_all(path, encoding="latin-1")["text"][0] == "café \x85 ok"
    assert load_all(path, errors="replace")["text"][0] == "caf\ufffd \ufffd ok"
    utf16 = write(tmp_path / "u.csv", "label,text\nx,héllo\n", encoding="utf-16")
    assert load_all(utf16, encoding="utf-16")["text"] == ["héllo"]


def test_crlf_and_trailing_blank_lines(tmp_path):
    path = tmp_path / "c.all"
    path.write_bytes(b"a one\r\nb two\r\n\r\n\n")
    assert as_pairs(load_all(path)) == [("a", "one"), ("b", "two")]


def test_mapping_of_split_files_reads_only_what_is_asked(tmp_path):
    write(tmp_path / "tr.csv", "label,text\n" + "".join(f"{l},{i}\n" for i, l in enumerate("ab" * 10)))
    write(tmp_path / "te.csv", "label,text\na,x\nb,y\n")
    dd = load_corpus({"train": tmp_path / "tr.csv", "test": tmp_path / "te.csv"}, seed=1)
    assert {k: len(v) for k, v in dd.items()} == {"train": 18, "valid": 2, "test": 2}
    assert sorted(dd["valid"]["label"]) == [0, 1]  # stratified: one of each class
    # with label_names the class ids are known without reading train: only the asked split is read
    dd = load_corpus({"train": tmp_path / "missing.csv", "test": tmp_path / "te.csv"}, split="test",
                     label_names=["a", "b"])
    assert list(dd) == ["test"] and len(dd["test"]) == 2
    dd = load_corpus({"train": tmp_path / "missing.csv", "valid": tmp_path / "te.csv"}, split="valid",
                     label_names=["a", "b"])
    assert list(dd) == ["valid"] and len(dd["valid"]) == 2  # a given valid file: train not needed
    with raises(r"missing\.csv: no such file"):  # without them every split is read (next test)
        load_corpus({"train": tmp_path / "missing.csv", "test": tmp_path / "te.csv"}, split="test")
    dd = load_corpus({"train": tmp_path / "tr.csv", "test": tmp_path / "te.csv"}, valid_fraction=0)
    assert list(dd) == ["train", "test"]
    assert dd["test"].features["label"] == dd["train"].features["label"]


def test_one_split_numbers_the_classes_as_the_full_load(tmp_path):
    # test lacks class "b": read alone, its "c" would become id 1 instead of 2
    write(tmp_path / "tr.csv", "label,text\na,x\nb,y\nc,z\n")
    write(tmp_path / "te.csv", "label,text\na,x\nc,z\n")
    files = {"train": tmp_path / "tr.csv", "test": tmp_path / "te.csv"}
    full = load_corpus(files, valid_fraction=0)
    test = load_corpus(files, valid_fraction=0, split="test")["test"]
    assert test.features["label"].names == ["a", "b", "c"] == full["test"].features["label"].names
    assert test["label"] == full["test"]["label"] == [0, 2]
    # folders too: a class only the test folder has keeps its id in split="train"
    for split, cls in [("train", "pos"), ("train", "neg"), ("test", "pos"), ("test", "neg"), ("test", "neutral")]:
        (tmp_path / "tree" / split / cls).mkdir(parents=True, exist_ok=True)
        write(tmp_path / "tree" / split / cls / "1.txt", f"{split} {cls}")
    train = load_corpus(tmp_path / "tree", split="train", valid_fraction=0)["train"]
    assert train.features["label"].names == ["neg", "neutral", "pos"]


def test_json_and_parquet_numbers_and_datasets_class_names(tmp_path):
    # 1 and 1.0 are one class; a Parquet file written by datasets keeps its ClassLabel names
    write(tmp_path / "n.jsonl", '{"label": 1, "text": "a"}\n{"label": 1.0, "text": "b"}\n{"label": 0, "text": "c"}\n')
    assert as_pairs(load_all(tmp_path / "n.jsonl")) == [("1", "a"), ("1", "b"), ("0", "c")]
    ds = Dataset.from_dict({"text": ["x", "y", "z"], "label": [1, 0, 1]})
    ds.cast_column("label", ClassLabel(names=["neg", "pos"])).to_parquet(tmp_path / "hf.parquet")
    assert as_pairs(load_all(tmp_path / "hf.parquet")) == [("pos", "x"), ("neg", "y"), ("pos", "z")]


def test_line_endings_bom_and_trees_in_a_txt_file(tmp_path):
    # classic Mac line endings (CR alone) are lines, not one record holding them all
    (tmp_path / "mac.all").write_bytes(b"1 a\r0 b\r1 c\r")
    assert as_pairs(load_all(tmp_path / "mac.all")) == [("1", "a"), ("0", "b"), ("1", "c")]
    # a BOM before __label__ still makes the file fastText
    (tmp_path / "bom.txt").write_bytes("\ufeff__label__pos good\n__label__neg bad\n".encode("utf-8"))
    assert as_pairs(load_all(tmp_path / "bom.txt")) == [("pos", "good"), ("neg", "bad")]
    # SST trees saved as .txt are not '<label> <text>' lines with the label '(3'
    write(tmp_path / "trees.txt", "(3 (2 The) (3 good))\n")
    with raises(r"trees\.txt: line 1 is a labelled tree .*format='ptb-trees'"):
        load_corpus(tmp_path / "trees.txt")
    assert as_pairs(load_all(tmp_path / "trees.txt", format="ptb-trees")) == [("3", "The good")]


def test_a_header_read_as_data_is_questioned_not_kept(tmp_path):
    # columns by number default to header=False; a header row would become a class of one row
    path = write(tmp_path / "h.csv", "label,text\npos,good\nneg,bad\npos,fine\n")
    with raises(r"h\.csv, row 1: label 'label' occurs in no other row; if row 1 names the columns "
                r"pass header=True, if it is data pass header=False"):
        load_corpus(path, label_column=0, text_column=1)
    assert as_pairs(load_all(path, label_column=0, text_column=1, header=True))[0] == ("pos", "good")
    assert len(load_all(path, label_column=0, text_column=1, header=False)) == 4  # the user's call
    # a one-row class that is a class number is data, not a header
    path = write(tmp_path / "n.csv", "3,x\n1,y\n1,z\n")
    assert len(load_all(path, label_column=0)) == 3


def test_long_fields_and_duplicate_header_names(tmp_path):
    long = "word " * 40_000  # 200,000 characters: over csv's default field limit
    write(tmp_path / "long.csv", f'label,text\na,"{long}"\nb,short\n')
    assert load_all(tmp_path / "long.csv")["text"][0] == long
    write(tmp_path / "dup.csv", "label,text,text\na,x,y\n")
    with raises(r"dup\.csv: the header has 2 columns named 'text' \(numbers 1, 2\); pick one by its"):
        load_corpus(tmp_path / "dup.csv")


def test_small_classes_stay_in_train_and_small_files_say_what_to_do(tmp_path):
    # ten "a" rows and five one-row classes: valid_fraction may not take a class's only row
    lines = ["a x"] * 10 + [f"c{i} y" for i in range(5)]
    for seed in range(5):
        dd = load_corpus(write(tmp_path / "s.all", "\n".join(lines) + "\n"), seed=seed)
        names = dd["train"].features["label"].names
        assert {names[i] for i in dd["train"]["label"]} == set(names)
        assert len(dd["valid"]) == 2  # still round(0.1 * 15) rows held out, from class "a"
    with raises(r"s4\.all: cannot hold out valid_fraction=0\.1 of train as the valid split .*"
                r"pass valid_fraction=0"):
        load_corpus(write(tmp_path / "s4.all", "a x\nb y\na z\nb w\n"))
    with raises(r"s4\.all: no test split; it holds train"):
        load_corpus(tmp_path / "s4.all", split="test")


def test_folder_names_that_only_end_like_a_split_and_split_archives(tmp_path):
    # "unit_test/" alone is a folder name, not the test split of a corpus without train
    for cls in ("pos", "neg"):
        (tmp_path / "data" / "unit_test" / cls).mkdir(parents=True)
        write(tmp_path / "data" / "unit_test" / cls / "1.txt", cls)
    assert list(load_corpus(tmp_path / "data", valid_fraction=0)) == ["train"]
    # train.zip holding train/<class>/ and test.zip holding test/<class>/, passed as a mapping
    for split in ("train", "test"):
        with zipfile.ZipFile(tmp_path / f"{split}.zip", "w") as zf:
            for i, cls in enumerate(["pos", "neg", "pos"]):
                zf.writestr(f"{split}/{cls}/{i}.txt", f"{split} {cls}")
    dd = load_corpus({"train": tmp_path / "train.zip", "test": tmp_path / "test.zip"}, valid_fraction=0)
    assert {k: len(v) for k, v in dd.items()} == {"train": 3, "test": 3}
    with raises(r"test\.zip: holds its own splits \(test\); pass it as the whole corpus, not as split 'train'"):
        load_corpus({"train": tmp_path / "test.zip"})


def test_layout_errors_name_the_member_read_first_and_the_registered_corpus(tmp_path):
    # the stray file read first set the layout; blaming only the next document misled
    with tarfile.open(tmp_path / "reviews.tar.gz", "w:gz") as tf:
        for name in ("top/README", "top/train/pos/a.txt", "top/train/neg/b.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tf.addfile(info, io.BytesIO(b"hi"))
    with raises(r"unexpected layout at 'top/train/pos/a\.txt': it is top/<split>/<class>/<doc>, but "
                r"'top/README', read first, is <class>/<doc>;"):
        load_corpus(tmp_path / "reviews.tar.gz")
    # a registered corpus's file given as a path: say its name
    (tmp_path / "mr").mkdir()
    (tmp_path / "mr" / "rt-polarity.all").write_bytes(b"1 caf\xe9\n0 b\n")
    with raises(r"cannot decode .*; or, as this is the 'mr' corpus's file, load it by name: "
                r"load_corpus\('mr', data_dir='.*mr'\)$"):
        load_corpus(tmp_path / "mr" / "rt-polarity.all")


def test_documents_below_a_class_folder_are_not_skipped(tmp_path):
    root = tmp_path / "tree"
    for name in ("pos/1.txt", "pos/2.txt", "pos/sub/3.txt", "neg/1.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write(root / name, name)
    with raises(r"unexpected layout at 'pos/sub/3\.txt': a subfolder of the class folder 'pos'"):
        load_corpus(root, label_names=["neg", "pos"])
    with raises(r"unexpected layout at 'pos/sub/3\.txt'"):
        load_corpus(root)


# ---------------------------------------------------------------- bad input: one error class, one line

@pytest.mark.parametrize("name, content, kw", [
    ("c.all", "pos a fine film\n0 \nneg dull\n", {}),  # two of four public sentence corpora have such a line
    ("c.all", "pos a fine film\n0\t\r\nneg dull\r\n", {}),
    ("c.txt", "__label__pos a fine film\n__label__0\n__label__neg dull\n", {"format": "fasttext"}),
    ("c.txt", "__label__pos a fine film\n__label__0 \n__label__neg dull\n", {"format": "fasttext"}),
    ("c.csv", "label,text\npos,a fine film\n0,\nneg,dull\n", {}),
    ("c.jsonl", '{"label": "pos", "text": "a fine film"}\n{"label": "0", "text": ""}\n{"label": "neg", "text": "dull"}\n',
     {}),
])
def test_an_empty_text_is_a_record_in_every_format(tmp_path, name, content, kw):
    """One rule: a label with an empty text loads as a record (never a refusal of the corpus)."""
    split = load_corpus({"train": write(tmp_path / name, content)}, valid_fraction=0, **kw)["train"]
    names = split.features["label"].names
    assert [(t.strip(), names[y]) for t, y in zip(split["text"], split["label"])] == \
        [("a fine film", "pos"), ("", "0"), ("dull", "neg")]


def raises(match):
    return pytest.raises(CorpusError, match=match)


@pytest.mark.parametrize("content, kw, match", [
    ("a one\n\nb two\n", {}, r"c\.all, line 2: blank line"),
    ("\n\n", {}, r"c\.all: no records found"),
    ("a one\nlonely\n", {}, r"c\.all, line 2: expected '<label> <text>'.*a label then a space is a record with "
                            r"an empty text"),  # "lonely" may be a text that lost its label
    ("__label__a one\nno label here\n", {"format": "fasttext"}, r"c\.all, line 2: no label"),
    ("__label__a __label__b two labels\n", {"format": "fasttext"}, r"line 1: several labels .*multi-label"),
    ("(3 (2 fine)\n", {"format": "ptb-trees"}, r"line 1: not a labelled tree"),
    ("(3 (2 fine)\n", {"format": "ptb-phrases"}, r"line 1: not a labelled tree"),
    ("(3 (2 a) (2 b)) (2 c)\n", {"format": "ptb-phrases"}, r"line 1: not a labelled tree"),
    ("(x (2 a))\n", {"format": "ptb-phrases"}, r"line 1: not a labelled tree"),
    ("(3 ())\n", {"format": "ptb-phrases"}, r"line 1: not a labelled tree"),
    ("a one\n", {"text_column": "x"}, r"text_column= does not apply to format 'label-text'"),
    ("a one\n", {"format": "xml"}, r"format='xml' is unknown; choose one of label-text, fasttext"),
    ("a one\n", {"encoding": "klingon"}, r"encoding='klingon' is not a codec"),
    ("a one\n", {"label_names": ["x", "y"]}, r"c\.all, line 1: label 'a' is not one of the classes \['x', 'y'\]"),
])
def test_bad_label_text_files(tmp_path, content, kw, match):
    path = write(tmp_path / "c.all", content)
    with raises(match):
        load_corpus(path, **kw)


@pytest.mark.parametrize("content, kw, match", [
    ("label,text\na,x\n,y\n", {}, r"c\.csv, row 2 \(line 3\): empty label in column 'label'"),
    ("label,text\na,x\nb\n", {}, r"row 2 \(line 3\): 1 fields, expected 2"),
    ("label,text\na,x\n", {"text_column": "body"},
     r"c\.csv: no column 'body'; the columns are 'label', 'text'"),
    ("a,x\n", {"label_column": 5}, r"c\.csv: no column 5; it has 2 columns \(0\.\.1\)"),
    ("a,x\n", {"label_column": 0, "text_column": "x"}, r"columns \['x'\] are names but header=False"),
    ('label,text\na,"x\n', {}, r"c\.csv, line \d+: ',*'-separated parse error"),
])
def test_bad_csv_files(tmp_path, content, kw, match):
    path = write(tmp_path / "c.csv", content)
    if "header=False" in match:
        kw["header"] = False
    with raises(match):
        load_corpus(path, **kw)


def test_bad_jsonl_and_parquet(tmp_path):
    write(tmp_path / "a.jsonl", '{"label": "x", "text": "t"}\n{"label": null, "text": "u"}\n')
    with raises(r"a\.jsonl, line 2: empty label in column 'label'"):
        load_corpus(tmp_path / "a.jsonl")
    write(tmp_path / "b.jsonl", '{"label": "x", "body": "t"}\n')
    with raises(r"b\.jsonl, line 1: no column 'text'; this line has 'label', 'body'"):
        load_corpus(tmp_path / "b.jsonl")
    write(tmp_path / "c.jsonl", '{"label": ["x", "y"], "text": "t"}\n')
    with raises(r"c\.jsonl, line 1: label column 'label' holds list .*multi-label"):
        load_corpus(tmp_path / "c.jsonl")
    write(tmp_path / "d.jsonl", '{"label": "x", "text": "t"}\nnot json\n')
    with raises(r"d\.jsonl, line 2: not JSON"):
        load_corpus(tmp_path / "d.jsonl")
    pq.write_table(pa.table({"text": ["a", "b"], "label": ["x", None]}), tmp_path / "e.parquet")
    with raises(r"e\.parquet, row 2: empty label in column 'label'"):
        load_corpus(tmp_path / "e.parquet")
    with raises(r"e\.parquet: no column 'y'; the columns are 'text', 'label'"):
        load_corpus(tmp_path / "e.parquet", label_column="y")
    write(tmp_path / "f.parquet", "not parquet at all")
    with raises(r"f\.parquet: not a Parquet file"):
        load_corpus(tmp_path / "f.parquet")


def test_undecodable_bytes_name_file_line_and_offset(tmp_path):
    path = tmp_path / "c.all"
    path.write_bytes(b"a fine\nb caf\xe9\n")
    with raises(r"c\.all, line 2, byte offset 12: cannot decode b'\\xe9' as utf-8; "
                r"pass encoding= .* or errors='replace'"):
        load_corpus(path)
    zpath = tmp_path / "c.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("pos/1.txt", b"ok")
        zf.writestr("neg/2.txt", b"line\nbad \xff")
    with raises(r"c\.zip, member neg/2\.txt, line 2, byte offset 9: cannot decode"):
        load_corpus(zpath)


def test_missing_paths_unknown_suffix_and_names(tmp_path):
    with raises(r"nope\.csv: no such file or directory"):
        load_corpus(tmp_path / "nope.csv")
    with raises(r"nope\.csv: no such file or directory"):
        load_corpus(str(tmp_path / "nope.csv"))
    write(tmp_path / "data.xyz", "a b\n")
    with raises(r"data\.xyz: cannot tell the format from the name; pass format= one of"):
        load_corpus(tmp_path / "data.xyz")
    with raises(r"format .csv. reads a file; for a directory of class folders use format=.folders."):
        load_corpus(tmp_path, format="csv")
    with raises(r"split='dev': choose among train, valid, test"):
        load_corpus(tmp_path / "data.xyz", split="dev")
    with raises(r"split 'dev' in the mapping: use train, valid, test"):
        load_corpus({"dev": tmp_path / "data.xyz"}, format="label-text")


@pytest.mark.parametrize("members, match", [
    (["a.txt"], r"'a\.txt' is not inside a class folder"),
    (["pos/1.txt", "x/neg/2.txt"], r"unexpected layout at 'x/neg/2\.txt'"),
    (["train/pos/1.txt", "neg/2.txt"], r"unexpected layout at 'neg/2\.txt'"),
    (["pos/1.txt", "../evil/neg/2.txt"], r"refusing member '\.\./evil/neg/2\.txt'"),
    (["/abs/pos/1.txt"], r"refusing member '/abs/pos/1\.txt'"),
    ([], r"no documents found"),
])
@pytest.mark.parametrize("kind", ["c.tar.gz", "c.zip"])
def test_archives_with_unexpected_layout_or_unsafe_names(tmp_path, members, match, kind):
    path = tmp_path / kind
    if kind.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as zf:
            for name in members:
                zf.writestr(name, "text")
    else:
        with tarfile.open(path, "w:gz") as tf:
            for name in members:
                info = tarfile.TarInfo(name)
                info.size = 4
                tf.addfile(info, io.BytesIO(b"text"))
    with raises(rf"{kind.replace('.', '[.]')}: .*{match}"):
        load_corpus(path)


def test_archive_links_and_missing_class_folders_are_refused(tmp_path):
    path = tmp_path / "l.tar"
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("pos/link.txt")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    with raises(r"l\.tar: member 'pos/link\.txt' is a link or device"):
        load_corpus(path)
    make_tree(tmp_path / "tree")
    with raises(r"tree: no documents in a class folder 'positive'; folders holding documents: neg, neu, pos"):
        load_corpus(tmp_path / "tree", label_names=["neg", "positive"])
    write(tmp_path / "bad.tar.gz", "not a tar")
    with raises(r"bad\.tar\.gz: not a readable tar archive"):
        load_corpus(tmp_path / "bad.tar.gz")


def test_error_messages_are_one_line(tmp_path):
    path = write(tmp_path / "c.all", "a one\nlonely\nline\n")
    with pytest.raises(CorpusError) as err:
        load_corpus(path)
    assert "\n" not in str(err.value)
    assert isinstance(err.value, ValueError)
    assert str(CorpusError("pyarrow says:\n  two lines")) == "pyarrow says: two lines"


# ---------------------------------------------------------------- hostile files: links, limits, line ends, depth

from textkit.formats import (  # noqa: E402  (the limits are ReadOptions fields)
    DEFAULT_MAX_RECORD_CHARS,
    ReadOptions,
    read,
)


def read_with(path, **limits):
    """``formats.read`` with small limits, so a test needs no large file."""
    return read(path, None, ReadOptions(**limits))


def test_links_in_a_folder_corpus_are_refused_not_followed(tmp_path):
    secret = write(tmp_path / "secret.txt", "root:x:0:0")  # stands for /etc/passwd
    tree = make_tree(tmp_path / "tree")
    (tree / "pos" / "p.txt").symlink_to(secret)
    with raises(r"tree: 'pos/p\.txt' is a symbolic link \(to .*secret\.txt\); .*plain files"):
        load_corpus(tree)
    (tree / "pos" / "p.txt").unlink()
    (tree / "more").symlink_to(make_tree(tmp_path / "elsewhere") / "neg", target_is_directory=True)
    with raises(r"tree: 'more' is a symbolic link \(to .*elsewhere/neg\)"):
        load_corpus(tree)
    (tree / "more").unlink()
    (tree / "neg" / "dup.txt").symlink_to(tree / "pos" / "0.txt")  # inside: a document read twice
    with raises(r"tree: 'neg/dup\.txt' is a symbolic link"):
        load_corpus(tree)
    (tree / "neg" / "dup.txt").unlink()
    assert sorted(as_pairs(load_all(tree))) == sorted(ROWS)  # a link to the corpus folder itself is fine
    (tmp_path / "alias").symlink_to(tree, target_is_directory=True)
    assert sorted(as_pairs(load_all(tmp_path / "alias"))) == sorted(ROWS)


def test_zip_links_are_refused_as_tar_links_are(tmp_path):
    path = tmp_path / "l.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("neg/1.txt", "fine")
        info = zipfile.ZipInfo("pos/link.txt")
        info.external_attr = (0o120777 << 16)  # a Unix symbolic link; its data is the target
        zf.writestr(info, "/etc/passwd")
    with raises(r"l\.zip: member 'pos/link\.txt' is a link or device"):
        load_corpus(path)


@pytest.mark.parametrize("name, content, match", [
    ("c.all", "a short\nb " + "x" * 100 + "\n", r"c\.all, line 2: longer than 50 characters"),
    ("c.all", "a short\rb " + "x" * 100 + "\r", r"c\.all, line 2: longer than 50 characters"),
    ("c.jsonl", '{"label": "a", "text": "' + "x" * 100 + '"}\n', r"c\.jsonl, line 1: longer than 50"),
    ("c.csv", 'label,text\na,"' + "x\n" * 60 + '"\n', r"c\.csv, line 2: a row longer than 50 characters"),
    ("c.csv", 'label,text\na,"unclosed\n' + "b,x\n" * 30, r"c\.csv, line 2: a row longer than 50 characters"),
], ids=["lf", "cr", "jsonl", "csv-quoted-lines", "csv-unclosed-quote"])
def test_a_record_over_max_record_chars_is_refused_naming_the_line(tmp_path, name, content, match):
    path = write(tmp_path / name, content)
    if "unclosed" in content:  # the quote is found open at the end of the file, or at the limit
        with raises(r"c\.csv, line 32: ','-separated parse error: unexpected end of data"):
            read_with(path, max_record_chars=200)
    else:
        assert read_with(path, max_record_chars=200)  # the same file reads under a higher limit
    with raises(match + r".*max_record_chars"):
        read_with(path, max_record_chars=50)


def test_the_default_record_limit_refuses_a_line_over_16_mi_characters(tmp_path):
    path = tmp_path / "long.all"
    with open(path, "w") as fh:  # a damaged file: 17 Mi characters and no line break
        fh.write("a ")
        fh.write("word " * (DEFAULT_MAX_RECORD_CHARS // 5 + 2**18))
    with raises(rf"long\.all, line 1: longer than {DEFAULT_MAX_RECORD_CHARS:,} characters"):
        load_corpus(path)


def test_documents_and_parquet_cells_over_max_record_chars_are_refused(tmp_path):
    tree = make_tree(tmp_path / "tree")
    write(tree / "neg" / "long.txt", "y" * 60)
    with raises(r"tree, member neg/long\.txt: 60 characters, more than max_record_chars=50"):
        read_with(tree, max_record_chars=50)
    pq.write_table(pa.table({"text": ["ok", "z" * 60], "label": ["a", "b"]}), tmp_path / "p.parquet")
    with raises(r"p\.parquet, row 2: 60 characters, more than max_record_chars=50"):
        read_with(tmp_path / "p.parquet", max_record_chars=50)


def tar_gz(path, members, mode="w:gz"):
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("kind", ["c.tar.gz", "c.zip"])
def test_archive_members_over_the_size_or_ratio_limit_are_refused(tmp_path, kind):
    members = {"neg/1.txt": b"fine", "pos/2.txt": b"a" * 2_000_000}  # 2 MB that compress ~1000x
    path = tmp_path / kind
    if kind.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
    else:
        tar_gz(path, members)
    assert len(read_with(path)[0].texts) == 2  # under the defaults: 2 MB is no bomb
    with raises(rf"{kind}, member pos/2\.txt: 2,000,000 bytes, more than max_member_bytes=1,000,000"):
        read_with(path, max_member_bytes=1_000_000)
    # (a tar's reads run ahead of its members: the archive's ratio may tell first)
    with raises(rf"{kind}(, member| \(up to member) pos/2\.txt\)?: decompresses to more than 10 times .*"
                r"max_compression_ratio"):
        read_with(path, max_compression_ratio=10)


def test_a_tar_bomb_is_refused_while_it_streams(tmp_path):
    # one member of 48 MiB of zeros in ~50 KB, under the size limit given here: the ratio limit
    # stops it within its first MiBs, long before it is decompressed whole
    path = tmp_path / "bomb.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("pos/big.txt")
        info.size = 48 * 2**20
        tf.addfile(info, io.BytesIO(bytes(info.size)))
    import tracemalloc

    tracemalloc.start()
    try:
        with raises(r"bomb\.tar\.gz, member pos/big\.txt: decompresses to more than 100 times"):
            read_with(path, max_member_bytes=64 * 2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


@pytest.mark.parametrize("kind", ["c.tar.gz", "c.zip"])
def test_many_small_members_that_inflate_too_much_are_refused_together(tmp_path, kind):
    # each 500 KB member is too small for its own ratio to tell; the archive's, so far, does
    members = {f"{'pos' if i % 2 else 'neg'}/{i}.txt": bytes(500_000) for i in range(40)}
    path = tmp_path / kind
    if kind.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
    else:
        tar_gz(path, members)
    with raises(rf"{kind} \(up to member (pos|neg)/\d+\.txt\): decompresses to more than 100 times"):
        load_corpus(path)


@pytest.mark.parametrize("mode, suffix", [("w:bz2", ".tar.bz2"), ("w:xz", ".tar.xz"), ("w", ".tar")])
def test_every_tar_compression_still_reads(tmp_path, mode, suffix):
    path = tar_gz(tmp_path / f"c{suffix}", {f"{l}/{i}.txt": t.encode() for i, (l, t) in enumerate(ROWS)}, mode)
    assert sorted(as_pairs(load_all(path))) == sorted(ROWS)


@pytest.mark.parametrize("content, match", [
    (b"a one\r\nb two\r\nc three\rd four\r\ne five\r\n",
     r"c\.all, line 3: ends with a bare \\r, but line 1 ends with \\n"),
    (b"a one\rb two\nc three\r", r"c\.all, line 2: ends with \\n, but line 1 ends with a bare \\r"),
], ids=["crlf-then-cr", "cr-then-lf"])
def test_mixed_line_endings_are_refused_not_merged(tmp_path, content, match):
    path = tmp_path / "c.all"
    path.write_bytes(content)
    with raises(match + r".*mixed line endings"):
        load_corpus(path)


def test_one_line_ending_per_file_and_csv_rows_end_at_any(tmp_path):
    (tmp_path / "a.all").write_bytes(b"a one\r\nb two\nc three\r")  # CRLF and LF agree; a last bare CR ends the file
    assert as_pairs(load_all(tmp_path / "a.all")) == [("a", "one"), ("b", "two"), ("c", "three")]
    # csv, as its module reads it: \r, \n and \r\n all end a row outside quotes, and stay inside them
    (tmp_path / "c.csv").write_bytes(b'label,text\r\na,x\rb,"y\rz"\nc,w\r\n')
    assert as_pairs(load_all(tmp_path / "c.csv")) == [("a", "x"), ("b", "y\rz"), ("c", "w")]


def test_json_nested_too_deeply_is_one_line_error(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    write(tmp_path / "d.jsonl", '{"label": "a", "text": "t"}\n{"label": "b", "text": "u", "x": ' + deep + "}\n")
    with raises(r"d\.jsonl, line 2: JSON nested too deeply"):
        load_corpus(tmp_path / "d.jsonl")
    write(tmp_path / "n.jsonl", '{"label": "a", "text": "t", "n": 1' + "0" * 5000 + "}\n")
    with raises(r"n\.jsonl, line 1: not JSON that can be read \(Exceeds the limit"):
        load_corpus(tmp_path / "n.jsonl")
    write(tmp_path / "l.jsonl", '{"label": ' + "[" * 500 + "]" * 500 + ', "text": "t"}\n')
    with raises(r"l\.jsonl, line 1: JSON nested too deeply"):  # past textkit's 64 levels, whatever the stack
        load_corpus(tmp_path / "l.jsonl")
    write(tmp_path / "s.jsonl", '{"label": ' + "[" * 30 + "]" * 30 + ', "text": "t"}\n')
    with pytest.raises(CorpusError, match=r"s\.jsonl, line 1: label column 'label' holds list \[\[\[\[\[\[") as err:
        load_corpus(tmp_path / "s.jsonl")
    assert len(str(err.value)) < 300


def test_lines_do_not_depend_on_where_the_reads_split_the_file(tmp_path, monkeypatch):
    # "\r\n" and multi-byte characters cut between two reads, at every offset: seeded, no hypothesis
    import random
    import re

    from textkit import formats

    rng = random.Random(0)
    path = tmp_path / "f.txt"
    for _ in range(150):
        text = "".join(rng.choice(["a", "é", "€", " ", "\r", "\n", "\r\n"]) for _ in range(rng.randrange(30)))
        path.write_bytes(text.encode("utf-8"))
        pieces = re.split(r"(\r\n|\r|\n)", text)
        expected = [(i + 1, line, end) for i, (line, end) in enumerate(zip(pieces[0::2], pieces[1::2] + [""]))]
        expected = expected[:-1] if expected[-1][1:] == ("", "") else expected
        for chunk in (1, 2, 3, 5, 2**20):
            monkeypatch.setattr(formats.base, "READ_CHUNK", chunk)
            assert list(formats.text_lines(path, ReadOptions())) == expected, (text, chunk)
    for data, place in [(b"ab\ncd\xffe\n", "line 2, byte offset 5"),
                        (b"a\r\n\xe2\x82\xac\r\nx\xe2\x82y", "line 3, byte offset 9")]:
        path.write_bytes(data)  # an undecodable byte is placed exactly, however the reads fall
        for chunk in range(1, 9):
            monkeypatch.setattr(formats.base, "READ_CHUNK", chunk)
            with raises(rf"f\.txt, {place}: cannot decode"):
                list(formats.text_lines(path, ReadOptions()))


def test_limits_are_checked_when_given(tmp_path):
    with raises(r"max_record_chars=0: expected a whole number >= 1"):
        ReadOptions(max_record_chars=0)
    with raises(r"max_compression_ratio='x': expected a number >= 1"):
        ReadOptions(max_compression_ratio="x")
