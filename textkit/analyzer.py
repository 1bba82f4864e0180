"""Stages 1-2 composed: text -> tokens (clean, tokenize, n-grams), and its parallel map.

Kept free of torch so worker processes start fast under every start method.

``Analyzer.chunk(texts)`` is the unit of work a process does: it returns the chunk's
distinct tokens, their counts, and every row as ids into that *local* token list. The
parent merges counts into the vocabulary and turns local ids into vocabulary ids with one
array lookup per chunk, so tokenizing, counting and indexing read each text only once,
in one or many processes alike.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.pool
import os
import signal
import threading
from dataclasses import dataclass
from itertools import chain, count
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from .cleaning import TextCleaner
from .tokenization import SPLITS_ON_WHITESPACE, Tokenizer, tokenizer_name, word_ngrams

# Below this much text, starting processes costs more than it saves.
PARALLEL_MIN_CHARS = 1_000_000
_CHUNKS_PER_PROCESS = 8  # several small chunks per worker keep every core busy to the end
Lookup = Callable[[Iterable[str]], Iterable[int]]  # tokens -> their vocabulary ids (Vocab.lookup)


@dataclass
class ChunkResult:
    """One chunk, analyzed: ``flat[j]`` is an index into ``tokens``; rows lie back to back."""

    tokens: list[str] | None   # distinct tokens of the chunk, first-seen order (None: flat is final)
    counts: np.ndarray | None  # (len(tokens),) int64
    flat: np.ndarray           # (sum(lengths),) int32 token ids: local, or final when tokens is None
    lengths: np.ndarray        # (rows,) int64


class Analyzer:
    """``analyzer(text) -> tokens``: cleaner, then tokenizer, then word n-grams."""

    def __init__(self, cleaner: TextCleaner | None, tokenizer: Tokenizer,
                 ngram_range: tuple[int, int] = (1, 1)) -> None:
        self.cleaner = cleaner
        self.tokenizer = tokenizer
        self.ngram_range = tuple(ngram_range)
        # One definition: tokens are tokenizer(cleaner(text)), always. For a tokenizer that
        # splits on whitespace, collapsing whitespace first cannot change a token, so that
        # last step is left out (~7% of the default pipeline's time); tests hold the two equal.
        self.clean: Callable[[str], str] | None = None
        if cleaner is not None:
            splits = tokenizer_name(tokenizer) in SPLITS_ON_WHITESPACE
            self.clean = cleaner.clean_for_splitting if splits else cleaner

    def __call__(self, text: str) -> list[str]:
        return self.many([text])[0]

    def many(self, texts: Sequence[str]) -> list[list[str]]:
        if self.clean is not None:
            texts = list(map(self.clean, texts))
        pipe = getattr(self.tokenizer, "pipe", None)  # spaCy tokenizes faster in batches
        token_lists = pipe(texts) if pipe is not None else list(map(self.tokenizer, texts))
        if self.ngram_range != (1, 1):
            token_lists = [word_ngrams(tokens, self.ngram_range) for tokens in token_lists]
        return token_lists

    def chunk(self, texts: Sequence[str], lookup: Lookup | None = None) -> ChunkResult:
        """Analyze ``texts``; with ``lookup`` (a fitted vocabulary's), return final ids directly."""
        token_lists = self.many(texts)
        lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
        if lookup is not None:  # vocabulary known: index here, in the worker, not in the parent
            # one stream of ids, no list per row; int32 halves what a worker sends back (a
            # vocabulary never nears 2**31 tokens)
            flat = np.fromiter(lookup(chain.from_iterable(token_lists)), dtype=np.int32, count=int(lengths.sum()))
            return ChunkResult(None, None, flat, lengths)
        tokens, flat = first_seen(chain.from_iterable(token_lists), int(lengths.sum()))
        counts = np.bincount(flat, minlength=len(tokens)).astype(np.int64)  # one pass fewer than a Counter
        return ChunkResult(tokens, counts, flat, lengths)


def first_seen(tokens: Iterable[str], n: int) -> tuple[list[str], np.ndarray]:
    """The ``n`` ``tokens``' distinct values in first-seen order, and each token's index into
    them ``(n,) int32`` (int64 from 2**31 tokens on). One dict operation per token:
    ``setdefault`` keeps the position where a token was first seen, and array work turns
    positions into ranks (~10% faster than ``dict.fromkeys`` then a lookup per token)."""
    dtype = np.int32 if n < 2**31 else np.int64
    seen: dict[str, int] = {}
    where = np.fromiter(map(seen.setdefault, tokens, count()), dtype=dtype, count=n)  # (n,) first positions
    is_first = np.zeros(n, dtype=bool)
    is_first[where] = True
    return list(seen), (np.cumsum(is_first, dtype=dtype) - 1)[where]


def resolve_num_proc(num_proc: int | None) -> int:
    """``None`` -> the cores this process may use; otherwise ``num_proc`` (checked)."""
    if num_proc is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            return os.cpu_count() or 1
    if not isinstance(num_proc, int) or isinstance(num_proc, bool) or num_proc < 1:
        raise ValueError(f"num_proc must be None (all cores) or an int >= 1, got {num_proc!r}")
    return num_proc


def map_chunks(analyzer: Analyzer, texts: list[str], num_proc: int,
               lookup: Lookup | None = None) -> Iterator[ChunkResult]:
    """``analyzer.chunk(chunk, lookup)`` over ``texts`` in order; in ``num_proc`` processes
    for large inputs. Results are identical to one process: chunks are processed
    independently and yielded in input order.
    """
    if num_proc == 1 or len(texts) < 2 * num_proc or sum(map(len, texts)) < PARALLEL_MIN_CHARS:
        yield analyzer.chunk(texts, lookup)
        return
    global _FORKED_TEXTS
    size = -(-len(texts) // (num_proc * _CHUNKS_PER_PROCESS))
    ranges = [(i, min(i + size, len(texts))) for i in range(0, len(texts), size)]
    # fork hands the analyzer, the vocabulary and the texts to the workers for free, so a
    # task is just (start, stop); elsewhere (spawn) the initializer pickles analyzer and
    # vocabulary once per worker and each task carries its texts. Workers never touch torch.
    forking = "fork" in multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if forking else None)
    if forking:
        _FORKED_TEXTS, tasks = texts, ranges
    else:
        tasks = [texts[start:stop] for start, stop in ranges]
    pool = None
    try:
        with signals_held():
            pool = ctx.Pool(num_proc, initializer=_init_worker, initargs=(analyzer, lookup))
        yield from pool.imap(_run_worker, tasks)
    finally:
        if pool is not None:
            stop_pool(pool)
        _FORKED_TEXTS = None


_HELD = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Block Ctrl-C and SIGTERM in this thread while a pool starts its workers; each worker starts
    with them blocked and unblocks them in ``worker_signals``, once its own handlers are in place.
    Without this, a signal that reached a worker between its fork and its initializer ran the
    parent's handler there: a traceback on stderr, now and then a hung pool. A signal the parent
    gets meanwhile waits, and is handled as the block ends."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks, and no fork
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stop_pool(pool: multiprocessing.pool.Pool, timeout: float = 5.0) -> None:
    """``pool.terminate()`` (which also joins the workers and the pool's threads), bounded.

    A worker stopped by a signal while it was sending or receiving leaves half a message in
    one of the pool's pipes; ``terminate`` then waits forever for the rest, or fails reading
    it (EOFError). Either way, after ``timeout`` seconds or such an error the workers are
    killed and the pool abandoned (``terminate`` has already marked it stopped, and its
    threads are daemons), so an interrupted run still cleans up and exits.
    """
    stopped = threading.Event()

    def terminate() -> None:
        with contextlib.suppress(Exception):
            pool.terminate()
            stopped.set()

    stopper = threading.Thread(target=terminate, daemon=True)
    stopper.start()
    stopper.join(timeout)
    if not stopped.is_set():
        for process in getattr(pool, "_pool", ()):  # the worker processes (CPython's Pool)
            process.kill()


_WORKER: tuple[Analyzer, Lookup | None] | None = None
_FORKED_TEXTS: list[str] | None = None


def _init_worker(analyzer: Analyzer, lookup: Lookup | None) -> None:
    global _WORKER
    worker_signals()
    _WORKER = (analyzer, lookup)


def worker_signals() -> None:
    """In a pool worker. A worker killed outright while it waits for a task dies holding the
    pool's queue lock, and the parent's ``Pool.terminate`` then hangs on that lock. So:
    Ctrl-C, which reaches the whole process group, is ignored (the parent handles it and
    terminates its workers); SIGTERM (from ``terminate``, or sent to the whole group) exits
    through Python, whose ``with lock:`` blocks release the lock on the way out, and not
    through a handler inherited from the parent (the CLI's)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_quietly)
    if hasattr(signal, "pthread_sigmask"):  # blocked since the fork (signals_held): a waiting one acts now
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # a worker's SystemExit ends it without a traceback


def _run_worker(task: list[str] | tuple[int, int]) -> ChunkResult:
    analyzer, lookup = _WORKER
    texts = _FORKED_TEXTS[task[0]:task[1]] if isinstance(task, tuple) else task
    return analyzer.chunk(texts, lookup)


def merge_counts(results: Sequence[ChunkResult]) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
    """The chunks' counts merged: every distinct token (first-seen order), its total count, and
    per chunk the merged index of each of its local tokens (so final ids need one lookup per
    *merged* token, not one per chunk's token). Array work: no per-token Python loop."""
    sizes = [len(r.tokens) for r in results]
    tokens, merged = first_seen(chain.from_iterable(r.tokens for r in results), sum(sizes))
    positions = np.split(merged, np.cumsum(sizes)[:-1])
    totals = np.zeros(len(tokens), dtype=np.int64)
    for where, r in zip(positions, results):
        totals[where] += r.counts  # a chunk's tokens are distinct: no repeated index to lose
    return tokens, totals, positions


def to_global_ids(result: ChunkResult, final_ids: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """Local ids of one chunk -> final ids, via one lookup per *distinct* token."""
    if result.tokens is None:  # already final
        return result.flat
    return final_ids(result.tokens)[result.flat]
