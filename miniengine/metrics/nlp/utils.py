"""Counting helpers shared by ``Bleu`` and ``Rouge``: n-grams, clipped matches, the LCS length.

A "sequence" is anything indexable of hashable items: a list of tokens, or a string (then the
items are characters).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

__all__ = ["lcs", "modified_precision", "ngrams"]


def ngrams(sequence: Sequence[Any], n: int) -> Counter[tuple[Any, ...]]:
    """Count the runs of ``n`` consecutive items of ``sequence``, in order of first appearance.

    Args:
        sequence: the items, e.g. a list of tokens.
        n: the n-gram order (1 for single items).

    Returns:
        A ``Counter`` mapping each n-gram (a tuple of ``n`` items) to how often it occurs; empty
        when the sequence is shorter than ``n``.

    Example:
        >>> ngrams(["the", "cat", "the", "cat"], 2)
        Counter({('the', 'cat'): 2, ('cat', 'the'): 1})
    """
    last_start = len(sequence) - n
    return Counter(tuple(sequence[i : i + n]) for i in range(last_start + 1))


def lcs(seq_a: Sequence[Hashable], seq_b: Sequence[Hashable]) -> int:
    """The length of the longest common subsequence of two sequences (items kept in order,
    gaps allowed).

    Args:
        seq_a: the first sequence.
        seq_b: the second sequence.

    Returns:
        The length of the longest sequence of items found, in order, in both.

    Example:
        >>> lcs("academy", "abracadabra")  # "acad"
        4
    """
    # One row of the classic table at a time: row[j] is the answer for seq_a[:i], seq_b[:j].
    row = [0] * (len(seq_b) + 1)
    for a in seq_a:
        diagonal = 0  # the previous row's row[j - 1]
        for j, b in enumerate(seq_b, start=1):
            above = row[j]
            row[j] = diagonal + 1 if a == b else max(above, row[j - 1])
            diagonal = above
    return row[-1]


def modified_precision(
    references: Sequence[Sequence[Any]], candidate: Sequence[Any], n: int
) -> tuple[int, int]:
    """BLEU's clipped n-gram counts of a candidate: matched n-grams and all its n-grams.

    Each candidate n-gram counts as matched at most as many times as it occurs in the one
    reference where it occurs most (Papineni et al. 2002), so repeating a word gains nothing.
    The modified precision p_n is the first number over the second.

    Args:
        references: the reference sequences of this candidate.
        candidate: the candidate (hypothesis) sequence.
        n: the n-gram order.

    Returns:
        ``(clipped matches, number of candidate n-grams)``.

    Example:
        >>> the7 = ["the"] * 7
        >>> modified_precision([["the", "cat", "on", "the", "mat"], ["a", "cat"]], the7, 1)
        (2, 7)
    """
    candidate_counts = ngrams(candidate, n)
    ceiling: Counter[tuple[Any, ...]] = Counter()
    for reference in references:
        ceiling |= ngrams(reference, n)  # |: the larger count of each n-gram
    clipped = sum(min(count, ceiling[gram]) for gram, count in candidate_counts.items())
    return clipped, sum(candidate_counts.values())


def _check_pairs(candidates: Sequence[Any], references: Sequence[Any]) -> None:
    # zip would silently drop the unpaired tail of a batch
    if len(candidates) != len(references):
        raise ValueError(
            "nb of candidates should be equal to nb of reference lists "
            f"({len(candidates)} != {len(references)})"
        )
    for i, refs in enumerate(references):
        if len(refs) == 0:
            raise ValueError(f"every candidate needs at least one reference, but y[{i}] is empty")
