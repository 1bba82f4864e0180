"""Dataset cards: the public benchmarks ``load_corpus`` knows by name.

A card says what a corpus is (citation, classes in their documented order, split sizes, the
evaluation protocol, published accuracies) and how to read it: which files, relative to the
corpus folder, in which format, and where the same data lives on the Hugging Face hub for
users who have no local copy. It holds facts only; ``corpora.py`` does the reading.

Reference numbers are test accuracy in percent, copied from the tables named in
``reference_source`` (command and seed as in those papers, not reproduced here). A number is
listed only where a table could be cited precisely.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Mapping

from .formats import CorpusError

KIM_2014 = ("Yoon Kim. 2014. Convolutional Neural Networks for Sentence Classification. "
            "EMNLP 2014, Table 2 (accuracy %)")
JOULIN_2017 = ("Armand Joulin, Edouard Grave, Piotr Bojanowski, Tomas Mikolov. 2017. Bag of Tricks "
               "for Efficient Text Classification. EACL 2017, Table 1, fastText with bigrams, h=10 "
               "(accuracy %)")
ZHANG_2015 = ("Xiang Zhang, Junbo Zhao, Yann LeCun. 2015. Character-level Convolutional Networks "
              "for Text Classification. NIPS 2015.")


def _kim(rand: float, static: float, non_static: float, multichannel: float) -> dict[str, float]:
    return {"CNN-rand": rand, "CNN-static": static, "CNN-non-static": non_static,
            "CNN-multichannel": multichannel}


@dataclass(frozen=True)
class HubSource:
    """Where the corpus lives on the Hugging Face hub, and how its columns map to ours.

    ``label_map`` maps the hub's label (its ClassLabel name, or the value as a string) to our
    class name; ``None`` means the hub already uses our names (or 0-based ids in our order).
    Hub ids were chosen from the hub's public catalogue and cannot be checked offline.
    """

    repo: str
    config: str | None = None
    text_columns: tuple[str, ...] = ("text",)
    label_column: str = "label"
    splits: Mapping[str, str] = field(default_factory=lambda: {"train": "train", "test": "test"})
    label_map: Mapping[str, str] | None = None
    note: str = ""


@dataclass(frozen=True)
class CorpusCard:
    """What a public corpus is and how to read it (see the module docstring)."""

    name: str
    title: str
    citation: str
    classes: tuple[str, ...]  # ClassLabel order: the dataset's documented order
    sizes: Mapping[str, int]  # documented examples per split, in load_corpus's split names
    protocol: str
    files: str | Mapping[str, str]  # one file/archive, or split -> file, relative to the folder
    format: str
    options: Mapping[str, Any] = field(default_factory=dict)  # ReadOptions for those files
    label_map: Mapping[str, str] | None = None  # raw label in the files -> class name
    fixed_split: bool = True  # False: no official split (10-fold CV); loaded whole as "train"
    references: Mapping[str, float] = field(default_factory=dict)
    reference_source: str = ""
    folders: tuple[str, ...] = ()  # folder names looked for under $TEXTKIT_DATA (default: name)
    bundled: bool = False  # shipped inside the package (textkit/data/<name>/)
    hub: HubSource | None = None
    notes: str = ""
    # Kim's protocol trains on phrases: a PTB tree file (looked for where the corpus is found, then
    # in the bundled copy) whose labelled phrases ``load_training_phrases`` returns, labels mapped
    # by ``phrase_labels`` (None drops a label); ``textkit train --corpus`` trains on them.
    train_phrases: str | None = None
    phrase_labels: Mapping[str, str | None] | None = None

    @property
    def local_folders(self) -> tuple[str, ...]:
        return self.folders or (self.name,)

    def files_for(self, splits: set[str] | None) -> list[str]:
        """The files holding ``splits`` (all of them for None, or when one archive holds all)."""
        if isinstance(self.files, str):
            return [self.files]
        return [f for s, f in self.files.items() if splits is None or s in splits]


_BINARY = ("negative", "positive")
_SST5 = ("very negative", "negative", "neutral", "positive", "very positive")
_NO_HEADER_LABEL_FIRST = {"label_column": 0, "header": False}
_NEWSGROUPS = (
    "alt.atheism", "comp.graphics", "comp.os.ms-windows.misc", "comp.sys.ibm.pc.hardware",
    "comp.sys.mac.hardware", "comp.windows.x", "misc.forsale", "rec.autos", "rec.motorcycles",
    "rec.sport.baseball", "rec.sport.hockey", "sci.crypt", "sci.electronics", "sci.med",
    "sci.space", "soc.religion.christian", "talk.politics.guns", "talk.politics.mideast",
    "talk.politics.misc", "talk.religion.misc",
)
_DBPEDIA = ("Company", "EducationalInstitution", "Artist", "Athlete", "OfficeHolder",
            "MeanOfTransportation", "Building", "NaturalPlace", "Village", "Animal", "Plant",
            "Album", "Film", "WrittenWork")
_AG = ("World", "Sports", "Business", "Sci/Tech")


def _one_based(names: tuple[str, ...]) -> dict[str, str]:
    # Zhang et al. (2015) csv files number classes from 1
    return {str(i): name for i, name in enumerate(names, 1)}


CARDS: dict[str, CorpusCard] = {card.name: card for card in [
    CorpusCard(
        name="trec", title="TREC question classification, 6 coarse classes",
        citation="Xin Li and Dan Roth. 2002. Learning Question Classifiers. COLING 2002.",
        classes=("DESC", "ENTY", "ABBR", "HUM", "LOC", "NUM"),
        sizes={"train": 5452, "test": 500},
        protocol="fixed split train 5,452 / test 500 (TREC-10); Kim 2014 holds out 10% of train as dev",
        files={"train": "TREC.train.all", "test": "TREC.test.all"}, format="label-text",
        # ASCII except one 0xF0 byte ("sister\xf0city") in the upstream train file
        options={"encoding": "latin-1"},
        references=_kim(91.2, 92.8, 93.6, 92.2), reference_source=KIM_2014, bundled=True,
        hub=HubSource("CogComp/trec", label_column="coarse_label"),
    ),
    CorpusCard(
        name="sst2", title="Stanford Sentiment Treebank, binary, sentence level (stsa.binary)",
        citation="Richard Socher et al. 2013. Recursive Deep Models for Semantic Compositionality "
                 "Over a Sentiment Treebank. EMNLP 2013.",
        classes=_BINARY, sizes={"train": 6920, "valid": 872, "test": 1821},
        protocol="fixed split train 6,920 / dev 872 / test 1,821 sentences (neutral removed)",
        files={"train": "stsa.binary.train", "valid": "stsa.binary.dev", "test": "stsa.binary.test"},
        format="label-text",
        references=_kim(82.7, 86.8, 87.2, 88.1), reference_source=KIM_2014, bundled=True,
        hub=HubSource("SetFit/sst2", label_column="label_text",
                      splits={"train": "train", "validation": "valid", "test": "test"}),
        notes="Kim 2014 trains on the 77,616 labelled phrases of the training trees (neutral dropped); "
              "these files are sentences only, and load_training_phrases('sst2') gives those phrases "
              "(from trees.train.txt, bundled), which `textkit train --corpus sst2` trains on. "
              "GLUE's SST-2 is a different packaging (phrase-level train, no test labels).",
        train_phrases="trees.train.txt",
        phrase_labels={"0": "negative", "1": "negative", "2": None, "3": "positive", "4": "positive"},
    ),
    CorpusCard(
        name="sst5", title="Stanford Sentiment Treebank, 5 classes (SST-1), sentence roots of the PTB trees",
        citation="Richard Socher et al. 2013. Recursive Deep Models for Semantic Compositionality "
                 "Over a Sentiment Treebank. EMNLP 2013.",
        classes=_SST5, sizes={"train": 8544, "valid": 1101, "test": 2210},
        protocol="fixed split train 8,544 / dev 1,101 / test 2,210 sentences",
        files={"train": "train.txt", "valid": "dev.txt", "test": "test.txt"}, format="ptb-trees",
        references=_kim(45.0, 45.5, 48.0, 47.4), reference_source=KIM_2014,
        folders=("sst5", "sst_trees"),
        hub=HubSource("SetFit/sst5", label_column="label_text",
                      splits={"train": "train", "validation": "valid", "test": "test"}),
        notes="Text = leaf words joined with a space, original case, PTB escapes (-LRB-) kept.",
    ),
    CorpusCard(
        name="mr", title="MR: movie-review sentence polarity v1.0 (rt-polarity)",
        citation="Bo Pang and Lillian Lee. 2005. Seeing stars: Exploiting class relationships for "
                 "sentiment categorization with respect to rating scales. ACL 2005.",
        classes=_BINARY, sizes={"train": 10662}, fixed_split=False,
        protocol="no official split: 10-fold cross-validation over all 10,662 sentences",
        files="rt-polarity.all", format="label-text", options={"encoding": "cp1252"},
        references=_kim(76.1, 81.0, 81.5, 81.1), reference_source=KIM_2014,
        hub=HubSource("cornell-movie-review-data/rotten_tomatoes",
                      splits={"train": "train", "validation": "valid", "test": "test"},
                      label_map={"neg": "negative", "pos": "positive"},
                      note="the hub copy comes pre-split 8,530 / 1,066 / 1,066, not for CV"),
    ),
    CorpusCard(
        name="subj", title="Subjectivity dataset v1.0",
        citation="Bo Pang and Lillian Lee. 2004. A Sentimental Education: Sentiment Analysis Using "
                 "Subjectivity Summarization Based on Minimum Cuts. ACL 2004.",
        classes=("subjective", "objective"), sizes={"train": 10000}, fixed_split=False,
        protocol="no official split: 10-fold cross-validation over all 10,000 sentences",
        files="subj.all", format="label-text", options={"encoding": "cp1252"},
        references=_kim(89.6, 93.0, 93.4, 93.2), reference_source=KIM_2014,
        hub=HubSource("SetFit/subj", label_column="label_text",
                      note="the hub copy comes pre-split (train/test), not for CV"),
    ),
    CorpusCard(
        name="cr", title="CR: customer reviews sentence polarity",
        citation="Minqing Hu and Bing Liu. 2004. Mining and Summarizing Customer Reviews. KDD 2004.",
        classes=_BINARY, sizes={"train": 3775}, fixed_split=False,
        protocol="no official split: 10-fold cross-validation over all 3,775 sentences",
        files="custrev.all", format="label-text", options={"encoding": "cp1252"},
        references=_kim(79.8, 84.7, 84.3, 85.0), reference_source=KIM_2014,
        notes="File as in harvardnlp/sent-conv-torch (label 0 = negative); size from Kim 2014 Table 1. "
              "Not in the shared corpora; no hub copy known to match.",
    ),
    CorpusCard(
        name="mpqa", title="MPQA opinion polarity (phrases)",
        citation="Janyce Wiebe, Theresa Wilson, Claire Cardie. 2005. Annotating Expressions of "
                 "Opinions and Emotions in Language. Language Resources and Evaluation 39(2-3).",
        classes=_BINARY, sizes={"train": 10606}, fixed_split=False,
        protocol="no official split: 10-fold cross-validation over all 10,606 phrases",
        files="mpqa.all", format="label-text", options={"encoding": "cp1252"},
        references=_kim(83.4, 89.6, 89.5, 89.4), reference_source=KIM_2014,
        notes="File as in harvardnlp/sent-conv-torch (label 0 = negative); size from Kim 2014 Table 1. "
              "Not in the shared corpora; no hub copy known to match.",
    ),
    CorpusCard(
        name="ag_news", title="AG's News topic classification (title + description)",
        citation=ZHANG_2015, classes=_AG, sizes={"train": 120000, "test": 7600},
        protocol="fixed split train 120,000 / test 7,600",
        files={"train": "train.csv", "test": "test.csv"}, format="csv",
        options={**_NO_HEADER_LABEL_FIRST, "text_column": [1, 2]}, label_map=_one_based(_AG),
        references={"fastText bigram": 92.5}, reference_source=JOULIN_2017,
        folders=("ag_news", "ag_news_csv"), hub=HubSource("fancyzhx/ag_news"),
        notes="Text = title + ' ' + description; '\\' line-break debris and ' #39;' entities kept.",
    ),
    CorpusCard(
        name="imdb", title="IMDB Large Movie Review Dataset v1.0 (labelled part)",
        citation="Andrew L. Maas, Raymond E. Daly, Peter T. Pham, Dan Huang, Andrew Y. Ng, "
                 "Christopher Potts. 2011. Learning Word Vectors for Sentiment Analysis. ACL-HLT 2011.",
        classes=("neg", "pos"), sizes={"train": 25000, "test": 25000},
        protocol="fixed split train 25,000 / test 25,000 (disjoint movies)",
        files="aclImdb_v1.tar.gz", format="tar",
        hub=HubSource("stanfordnlp/imdb"),
        notes="Read from the archive without unpacking; train/unsup/ and the url/vocab files are "
              "not read. Text keeps the literal '<br /><br />' markup.",
    ),
    CorpusCard(
        name="20newsgroups", title="20 Newsgroups, bydate version (headers kept)",
        citation="Ken Lang. 1995. NewsWeeder: Learning to Filter Netnews. ICML 1995 "
                 "(bydate split from Jason Rennie's 20 Newsgroups page).",
        classes=_NEWSGROUPS, sizes={"train": 11314, "test": 7532},
        protocol="fixed split by date: train 11,314 / test 7,532; say whether headers, "
                 "footers and quotes were stripped",
        files="20news-bydate.tar.gz", format="tar", options={"encoding": "latin-1"},
        folders=("20newsgroups", "20news-bydate"),
        hub=HubSource("SetFit/20_newsgroups", label_column="label_text",
                      note="check which header/quote stripping the hub copy applied"),
        notes="Raw messages with their header block; latin-1 as in scikit-learn.",
    ),
    CorpusCard(
        name="fara_forms", title="FARA forms: page-1 OCR (words + boxes) of scanned FARA filings, 3 form types",
        citation="Zilong Wang, Yichao Zhou, Wei Wei, Chen-Yu Lee, Sandeep Tata. 2023. VRDU: A Benchmark for "
                 "Visually-rich Document Understanding. KDD 2023 (its registration-form PDFs, US Department "
                 "of Justice public records; page 1 OCR'd with Tesseract 5.3 at 150 dpi for the shared corpora).",
        classes=("Amendment", "Dissemination_Report", "Short-Form"), sizes={"train": 600}, fixed_split=False,
        protocol="no official split: stratified cross-validation over the 600 pages (200 per class)",
        files="fara_forms_ocr.tar.gz", format="ocr-tsv",
        notes="One page per document: Tesseract's TSV, words with pixel boxes, read from the archive without "
              "unpacking. Member names carry the class, date and registrant: an id, never a feature. Words "
              "alone nearly separate the classes (the form titles and OMB numbers are printed on the pages); "
              "scan era and page size correlate with the class too (see the corpus's SOURCE.md).",
    ),
    CorpusCard(
        name="sms_spam", title="SMS Spam Collection v.1",
        citation="Tiago A. Almeida, Jose Maria Gomez Hidalgo, Akebo Yamakami. 2011. Contributions to "
                 "the Study of SMS Spam Filtering: New Collection and Results. DocEng 2011.",
        classes=("ham", "spam"), sizes={"train": 5574}, fixed_split=False,
        protocol="no official split: papers use their own (often stratified) splits",
        files="SMSSpamCollection", format="tsv", options={**_NO_HEADER_LABEL_FIRST, "text_column": 1},
        folders=("sms_spam", "smsspamcollection"),
        hub=HubSource("ucirvine/sms_spam", text_columns=("sms",), splits={"train": "train"}),
        notes="UCI file: 'ham<TAB>text' per line, no header, unquoted.",
    ),
    CorpusCard(
        name="yelp_polarity", title="Yelp review polarity (Zhang et al. 2015)",
        citation=ZHANG_2015, classes=_BINARY, sizes={"train": 560000, "test": 38000},
        protocol="fixed split train 560,000 / test 38,000",
        files={"train": "train.csv", "test": "test.csv"}, format="csv",
        options={**_NO_HEADER_LABEL_FIRST, "text_column": 1}, label_map=_one_based(_BINARY),
        references={"fastText bigram": 95.7}, reference_source=JOULIN_2017,
        folders=("yelp_polarity", "yelp_review_polarity_csv"),
        hub=HubSource("fancyzhx/yelp_polarity", label_map=_one_based(_BINARY)),
    ),
    CorpusCard(
        name="dbpedia", title="DBpedia ontology classification, 14 classes (title + abstract)",
        citation=ZHANG_2015, classes=_DBPEDIA, sizes={"train": 560000, "test": 70000},
        protocol="fixed split train 560,000 / test 70,000",
        files={"train": "train.csv", "test": "test.csv"}, format="csv",
        options={**_NO_HEADER_LABEL_FIRST, "text_column": [1, 2]}, label_map=_one_based(_DBPEDIA),
        references={"fastText bigram": 98.6}, reference_source=JOULIN_2017,
        folders=("dbpedia", "dbpedia_csv"),
        hub=HubSource("fancyzhx/dbpedia_14", text_columns=("title", "content")),
    ),
]}

ALIASES = {"sst1": "sst5", "sst-1": "sst5", "sst-2": "sst2", "sst-5": "sst5", "20ng": "20newsgroups",
           "20_newsgroups": "20newsgroups", "ag": "ag_news", "agnews": "ag_news", "yelp": "yelp_polarity",
           "dbpedia_14": "dbpedia", "sms": "sms_spam", "fara": "fara_forms", "rt-polarity": "mr", "custrev": "cr"}


def canonical_name(name: str) -> str | None:
    """The registered name ``name`` refers to (case-insensitive, aliases resolved), or None."""
    key = name.lower()
    key = ALIASES.get(key, key)
    return key if key in CARDS else None


def get_card(name: str) -> CorpusCard:
    """The card registered as ``name`` (case-insensitive; a few common aliases accepted)."""
    key = canonical_name(name)
    if key is not None:
        return CARDS[key]
    key = name.lower()
    close = difflib.get_close_matches(key, [*CARDS, *ALIASES], n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    raise CorpusError(f"unknown corpus {name!r}: not a file and not a registered name; {hint}"
                      f"registered: {', '.join(CARDS)}")
