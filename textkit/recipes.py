"""Validated settings: each model's defaults, and each registered corpus's own recipe, in one
place that ``TextClassifier``, ``textkit train`` and ``scripts/reproduce.py`` all read.

A recipe is three dicts, the shape ``textkit train --recipe FILE`` takes::

    {"pipeline": {...TextPipeline options}, "model_config": {...build_model options},
     "train": {...TrainConfig fields}}

``recipe_for(model)`` is the model's cross-corpus default, what ``TextClassifier(model)`` and
``textkit train --train FILE`` use; ``recipe_for(model, corpus)`` is the registered corpus's
validated recipe for that model (the model's default where the corpus has none), what
``TextClassifier(model, recipe=corpus)`` and ``textkit train --corpus NAME`` use. Options a user
gives always win over a recipe's, one option at a time. ``recipe=None`` turns recipes off: the
plain ``TrainConfig`` and ``build_model`` defaults.

Why these defaults: each model's is the recipe validation chose on most corpora (the notes
below): the bag of embeddings with word 1-2 grams, 32 dimensions, sqrt pooling and sparse
updates at lr 2e-3 (TREC, SST-2, Subj), up to 50 epochs with patience 5 (small files need
them); Kim's CNN at 300 dimensions, padded "wide" as Kim's code pads (TREC, SST-2); the BiLSTM
as the library builds it, stopped early (SST-2). A corpus whose validation chose otherwise (MR,
IMDB, 20 Newsgroups; TREC's average of five CNNs) carries its own.
"""
from __future__ import annotations

import copy
from typing import Any

PARTS = ("pipeline", "model_config", "train")
Recipe = dict  # {"pipeline": {...}, "model_config": {...}, "train": {...}}

# HOW THE RECIPES WERE CHOSEN: on validation data only, never test,
# one torch thread on this 2-core machine. Two measures were used over time:
#  - "replayed" (the current --valid-only): the whole protocol run with the valid split as the
#    test split, mean over the runs; reruns as, e.g.,
#        python scripts/reproduce.py --datasets mr --seeds 2 --valid-only [--models bow --recipe tried.json]
#    (tried.json: {"pipeline": .., "model_config": .., "train": ..}).
#  - "chooser" (earlier sessions): the early-stopped model's best validation accuracy, mean over
#    MR folds 0-2 or seeds 0-2, from the same TextClassifier.fit. It is a maximum over epochs on
#    the texts it is read from, and it flattered bow: on MR it said bow 79.69 vs TF-IDF+LR 79.24,
#    replayed says 77.76 vs 78.24, and the test folds said 77.6 vs 78.5.
#  * bow, sentences: exact word 1-2 grams (no hashing: MR has ~170k, no collisions and half the
#    time of 2**18 buckets), pooling="sqrt" (sum / sqrt(length); MR fold 0: 0.778 vs 0.774 for
#    the mean), sparse gradients (SparseAdam for the table, AdamW for the rest: 8 s per MR fit
#    instead of 19 s dense), E=32, AdamW lr 2e-3, batch 64 (chooser): MR 0.797 vs TF-IDF+LR
#    0.792; Subj 0.932 vs 0.917. Tried and dropped on MR (chooser): word 1-3 grams (0.756 on
#    fold 0), E=100 (0.792), E=64 + dropout 0.5 (0.772), word dropout 0.3/0.5 (0.778/0.751; the
#    option was then removed), keeping character repeats (0.787), lr 1e-2 (0.763).
#    Up to 50 epochs with patience 5 (was 10 and 2), for small files: the old cap and patience
#    stopped a small fit before it had learnt (500 TREC questions: best epoch 1 on seed 0, since
#    the first epochs of a small set barely move). scripts/small_data_check.py (train splits
#    only: n texts to fit, n/8 to validate, 1,000 held out; mean of seeds 0-2), before -> after:
#    TREC n=500 0.467 -> 0.684, n=2000 0.778 -> 0.801; Subj 0.826 -> 0.845, 0.879 -> 0.886;
#    MR 0.564 -> 0.623, 0.708 -> 0.718; SST-2 sentences 0.567 -> 0.640, 0.746 -> 0.746
#    (TF-IDF+LR there: 0.731/0.811, 0.841/0.866, 0.622/0.708, 0.659/0.729). Also tried: up to
#    100 epochs with patience 10, as good or slightly better on each (0.694 on TREC n=500) at
#    twice the idle epochs on a large file; lr 5e-3 with patience 5, mixed. Batch 16 (then 32),
#    same order: TREC 0.700/0.801 (0.688/0.792), Subj 0.852/0.891 (0.848/0.885), MR 0.623/0.722
#    (0.615/0.715), SST-2 0.654/0.737 (0.591/0.741): within a seed's spread of batch 64 but for
#    TREC n=500 (+1.6) and SST-2 n=2000 (-1.0), so batch 64 stays.
#    MR's own recipe (_MR_BOW), replayed over MR's 10 folds x seeds 0-1 (TF-IDF+LR 78.24):
#    the recipe above (lr 2e-3) 77.76; lr 5e-4 (up to 20 epochs, patience 3) 78.56;
#    lr 5e-4 + distinct=True 78.74 <- chosen. Seed 0 only: lr 1e-3 77.96, lr 2.5e-4 77.85,
#    min_freq=2 (lr 2e-3) 77.06;
#    plain SGD at lr 0.2/0.5 was unstable (a refit fell to 0.55) and was stopped.
#    SST-2 keeps this recipe: replayed on seeds 0-1 (dev halves) it scores 81.48, TF-IDF+LR 82.11;
#    lr 1e-3 81.25, E=64 81.02, batch 256 80.73, word 1-3 grams 80.33, mean pooling 79.76,
#    hidden layer 64 + dropout 0.5 80.96, E=16 79.93; seed 0 only: lr 5e-4 80.2 (this recipe 82.2).
#    TREC keeps it too (then up to 20 epochs): replayed on seeds 0-4 it scores 86.31, TF-IDF+LR 86.39;
#    MR's recipe (up to 30 epochs) 85.25, E=100 85.94, word 1-3 grams 85.17.
#  * bow, documents: chosen on 20 Newsgroups' valid split (seed 0; TF-IDF+LR there: 0.940 at
#    C=100): keep e-mail addresses (emails="keep": senders identify groups), E=32 0.915 -> E=100
#    0.921 -> E=100 + distinct=True (a binary bag: repeated quotes and signatures stop dominating
#    the sum) 0.941; up to 15 epochs, patience 3 (best epochs 6-10). IMDB uses the same recipe
#    without the e-mail setting (its earlier check, E=32 without distinct: valid 0.914 at epoch 9
#    of 10 vs TF-IDF+LR 0.904); its valid accuracy is in every run's JSON record.
#    Also tried: distinct=True (binary bag): MR 0.800, Subj 0.929 - a wash, so left off here.
#    IMDB's own recipe (_IMDB_BOW), replayed on seed 0 (TF-IDF+LR 90.36): lr 2e-3 90.32;
#    lr 5e-4, up to 30 epochs 90.96 <- chosen. 20 Newsgroups was given IMDB's lr 5e-4 once,
#    without a replay, in a full run: its early-stopped valid accuracy fell from 0.941 to 0.927
#    (seed 0, same split), so it kept lr 2e-3. That run's test accuracy, 84.7 (85.7 at lr 2e-3),
#    is in the README. Replayed later on seed 0 (TF-IDF+LR 93.99, 10 min; each bow 14-24 min):
#    E=100 93.63 (below the baseline, as on test), E=100 + min_freq=2 93.55,
#    E=200 94.43 <- chosen (_NEWS_BOW); E=300 94.25 (35 min). An E=400 run grew to 16 GB
#    (1.15M word 1-2 grams) and was killed for memory beside another run; it gave no figure.
#    E=200 with members=3 (an average of three, affordable once bow trained on flattened ids:
#    30 min) 93.99, though its early-stopped valid accuracy was 0.946 (one bow's 0.942, same split): not taken.
#    NB-weighted logistic regression (NBSVM's features, scripts/nblr_check.py, scikit-learn)
#    replayed on seed 0: 20 Newsgroups 92.31 vs TF-IDF+LR 93.99; SST-2's dev halves 1-2 grams
#    80.85, 1-3 grams 82.46 vs 82.11. Not built: no model to add for these rows.
#    IDF-weighted pooling (each id weighed by scikit-learn's smoothed idf of the training texts,
#    then L2-normalised: TF-IDF's weighting inside the bow; a monkey-patch outside the repo, run
#    through reproduce.py --valid-only; no command here reproduces it):
#    20 Newsgroups seed 0 93.46 (one bow 94.43); SST-2's dev halves, seeds 0-1, 81.71. Not built.
#    Averaging bows on SST-2 (dev halves, seeds 0-1; this recipe 81.48 now too, 20 s a fit):
#    members=5 81.54, members=10 81.71 (2 min a fit): bows from different initialisations end
#    nearly alike, so their average gains little; TF-IDF+LR there 82.11. Not taken.
#    Dropout on the pooled features (the table itself has no weight decay under SparseAdam):
#    20 Newsgroups seed 0, p=0.5, 93.28; SST-2's dev halves p=0.5 81.36, p=0.3 81.25. Not taken.
#    All 20 Newsgroups figures above are on a random valid split, which shares threads (quotes,
#    subjects) with training; its test posts are later ones. There the bow ranked 0.44 above
#    TF-IDF+LR and the test split put it 0.45 below. --valid-only now replays 20 Newsgroups on
#    each group's latest 10% of training posts by article number (reproduce.py's
#    replayed_by_date), and ranks as test does (seeds 0/1, 1,130 posts): TF-IDF+LR 91.59/91.59,
#    this recipe with the regex tokens 89.73/90.97. scikit-learn's tokens (tokenizer="words":
#    runs of 2+ word characters; no ":", ">", "@", "." from headers and quotes, no single
#    letters) 91.59/91.42 <- chosen (a tie and -0.17 against the baseline: the row was not
#    expected to meet it). Also there: the regex tokens less the symbols 91.33/90.97 (a
#    tokenizer registered in the probe only: no command here reruns it); members=3 91.24
#    (seed 1); seed 0 only: min_freq=2 89.29, up to 30 epochs with patience 5 89.99, idf
#    pooling (the patch above) 90.18 (seed 1: 91.15), the valid split drawn from the
#    latest posts too (a probe option only) 91.06 (TF-IDF+LR 91.59 there as well). These came from a probe calling
#    reproduce.py's functions on the same splits; after the decision, seed 0 rerun as
#        python scripts/reproduce.py --datasets 20newsgroups --seeds 1 --valid-only
#    printed the probe's figures (bow 91.59, TF-IDF+LR 91.59; 13.7 min). Test: 86.7/86.6.
#  * cnn: Kim's architecture with E=300 as in Kim 2014 (TREC seed-0 valid 0.877 vs 0.864 at the
#    library's E=128; not lower-casing, as Kim's TREC code does: 0.864, no gain), AdamW 1e-3,
#    batch 50, up to 20 epochs, patience 4. On SST-2's phrases it peaks at epoch 1 (valid 0.823;
#    lr 3e-4: 0.819), under TF-IDF+LR's 0.829 on the same phrases. A TREC sweep on a lent H200
#    (--device cuda, chooser, seeds 0-4): this recipe 88.00; kernel sizes (1,2,3) 87.67, (2,3,4)
#    87.71, (1,2,3,4,5) 87.89; lr 5e-4 87.71; Adadelta lr 1.0 (Kim's) 86.42; 200 filters 88.04;
#    dropout 0.3 87.74: nothing above the noise, so the recipe stays.
#    wide=True (Kim's code pads each sentence with max(k)-1 zeros at both ends; ours had read
#    only the windows inside a text, so a question's first word filled one window per size),
#    replayed on TREC seeds 0-4: 87.89 vs 86.57 narrow (per seed 87.16/89.72/88.07/88.07/86.42
#    vs 87.52/87.89/86.42/86.24/84.77) <- chosen. SST-2, replayed on seed 0's dev halves:
#    82.57 vs 80.50 narrow (80.73/84.40 vs 79.13/81.88; TF-IDF+LR 82.11 and bow 81.48 on
#    seeds 0-1) <- chosen there too. Later, against this recipe: SST-2 at lr 3e-4 (to peak
#    after epoch 1, for a steadier refit) 81.31 (80.05/82.57); TREC seeds 0-4 (87.89): the
#    nltk-treebank tokenizer (splits "what's" as Kim's clean_str does) 87.49, and the
#    library's BiLSTM rnn (up to 20 epochs, patience 4, batch 50) 81.58.
#    members=5 on TREC (five CNNs from their own initialisations, trained side by side, mean
#    logits; textkit/models/ensemble.py), replayed on seeds 0-4: 88.59 vs one CNN's 87.89 (per seed
#    89.54/90.46/88.07/87.71/87.16 vs 87.16/89.72/88.07/88.07/86.42) <- chosen for TREC (five times
#    the work: 4-11 min a replayed seed here instead of 1.5-3). Not tried on SST-2, where one CNN takes
#    15-19 min a fit on this machine; nor as the cnn's default, whose cost every user would pay.
#  * rnn on SST-2: the library's BiLSTM (E=128, H=128 per direction, max pooling, dropout 0.5),
#    AdamW 1e-3, batch 50: valid 0.814 / 0.831 / 0.834 after epochs 1-3 (73 s each), the only
#    model above TF-IDF+LR there; SST-2's bow (valid 0.813-0.817 at lr 2e-3 .. 2e-4) is not.
#    On the H200 (chooser, seeds 0-2): this recipe 82.61; E=300/H=150 82.49; GRU 82.42; up to
#    8 epochs with patience 2 82.99 - within one seed's spread (0.79-0.85), so the recipe stays.
#    Replayed later (seeds 0-1, dev halves 80.96/83.03/81.19/80.96): 81.54, under TF-IDF+LR's
#    82.11 and the cnn's 82.57 (seed 0).
#  * mixes of families (scripts/reproduce.py --models bow+cnn: the mean of the members'
#    probabilities, each member trained with its recipe here; for a user, scikit-learn's
#    VotingClassifier(voting="soft") over TextClassifiers). A bow and a CNN err on different texts,
#    where members of one family end nearly alike. TREC's bow + cnn (its five averaged CNNs),
#    replayed on seeds 0-4: 89.18 vs the cnn's 88.59 and the bow's 86.31 (per seed
#    89.91/91.38/87.89/89.36/87.34 vs 89.54/90.46/88.07/87.71/87.16) <- chosen for TREC's row
#    (rule fixed before its test run). SST-2's bow + cnn, replayed on seeds 0-1 (dev halves
#    79.13/84.86/84.17/82.11): 82.57 vs the bow's 81.48 (79.59/84.86/82.34/79.13) and the cnn's
#    81.25 (77.98/84.86/80.96/81.19; 82.57 on seed 0 alone when the wide CNN was chosen, with the
#    library of then) <- chosen for SST-2's row (rule: above both members; fixed before the
#    seed-1 replay and the test run). It is not a recipe here: a TextClassifier is one model.
_SENTENCE_BOW = dict(pipeline=dict(ngram_range=(1, 2)),
                     model_config=dict(embed_dim=32, pooling="sqrt", sparse=True),
                     train=dict(optimizer="adamw", lr=2e-3, epochs=50, patience=5, batch_size=64))
_MR_BOW = dict(_SENTENCE_BOW, model_config=dict(_SENTENCE_BOW["model_config"], distinct=True),
               train=dict(_SENTENCE_BOW["train"], lr=5e-4, epochs=20, patience=3))
_DOC_BOW = dict(pipeline=dict(ngram_range=(1, 2)),
                model_config=dict(embed_dim=100, pooling="sqrt", distinct=True, sparse=True),
                train=dict(optimizer="adamw", lr=2e-3, epochs=15, patience=3, batch_size=64))
_IMDB_BOW = dict(_DOC_BOW, train=dict(_DOC_BOW["train"], lr=5e-4, epochs=30))
_NEWS_BOW = dict(_DOC_BOW, pipeline=dict(ngram_range=(1, 2), tokenizer="words", cleaner=dict(emails="keep")),
                 model_config=dict(_DOC_BOW["model_config"], embed_dim=200))
_CNN = dict(pipeline=dict(), model_config=dict(embed_dim=300, wide=True), train=dict(epochs=20, patience=4))
_TREC_CNN = dict(_CNN, model_config=dict(_CNN["model_config"], members=5))
_RNN = dict(pipeline=dict(), model_config=dict(), train=dict(epochs=5, patience=1))

# Each model's cross-corpus default (the grid, which reads pages, has no validated recipe yet).
MODEL_DEFAULTS: dict[str, Recipe] = {"bow": _SENTENCE_BOW, "cnn": _CNN, "rnn": _RNN}
# Each registered corpus's recipes, its best single model first (the model `textkit train --corpus
# NAME` trains when no --model is given; TREC's and SST-2's rows are best with a mix, see the notes).
CORPUS_RECIPES: dict[str, dict[str, Recipe]] = {
    "trec": {"cnn": _TREC_CNN, "bow": _SENTENCE_BOW},
    "sst2": {"cnn": _CNN, "rnn": _RNN, "bow": _SENTENCE_BOW},
    "mr": {"bow": _MR_BOW, "cnn": _CNN},
    "subj": {"bow": _SENTENCE_BOW, "cnn": _CNN},
    "imdb": {"bow": _IMDB_BOW},
    "20newsgroups": {"bow": _NEWS_BOW},
}


def recipe_for(model: str, corpus: str | None = None) -> Recipe:
    """The recipe ``model`` trains with: ``corpus``'s own (a registered name or alias), else the
    model's default; a fresh copy, with all three parts present."""
    found = None
    if corpus is not None:
        from .registry import get_card

        found = CORPUS_RECIPES.get(get_card(corpus).name, {}).get(model)
    chosen = found if found is not None else MODEL_DEFAULTS.get(model, {})
    return {part: copy.deepcopy(dict(chosen.get(part, {}))) for part in PARTS}


def best_model(corpus: str, fallback: str) -> str:
    """The single model a registered corpus's table row is best with (``fallback`` when it has none)."""
    from .registry import get_card

    return next(iter(CORPUS_RECIPES.get(get_card(corpus).name, {})), fallback)


def layered(recipe: Recipe, given: dict[str, Any] | None) -> dict[str, Any]:
    """``given`` options over a recipe part: the user's value wins, one option at a time."""
    return {**recipe, **(given or {})}
