"""nlp.utils: n-grams, LCS and clipped counts, by hand, by brute force, and against Ignite."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miniengine.metrics.nlp.utils import lcs, modified_precision, ngrams

tokens = st.lists(st.sampled_from("abc"), max_size=8)


def brute_lcs(a, b):
    """The longest subsequence of ``a`` (tried from the longest down) that is one of ``b``."""
    for size in range(min(len(a), len(b)), 0, -1):
        subs_b = set(itertools.combinations(b, size))
        if any(sub in subs_b for sub in itertools.combinations(a, size)):
            return size
    return 0


def clipped_by_hand(references, candidate, n):
    grams = [tuple(candidate[i : i + n]) for i in range(len(candidate) - n + 1)]
    matched = 0
    for gram in set(grams):
        most_in_one_ref = max(
            sum(tuple(r[i : i + n]) == gram for i in range(len(r) - n + 1)) for r in references
        )
        matched += min(grams.count(gram), most_in_one_ref)
    return matched, len(grams)


def test_ngrams_by_hand():
    assert ngrams([], 1) == {}
    assert ngrams([0, 1], 3) == {}  # shorter than n
    counts = ngrams("abab", 2)
    assert list(counts.items()) == [(("a", "b"), 2), (("b", "a"), 1)]  # order of first sight
    assert list(ngrams([3, 3, 3, 1], 1).items()) == [((3,), 3), ((1,), 1)]
    assert ngrams(["x", "y", "z"], 3) == {("x", "y", "z"): 1}


def test_lcs_by_hand():
    assert lcs([], [1, 2]) == 0
    assert lcs([1, 2, 3], [1, 2, 3]) == 3
    assert lcs("kitten", "sitting") == 4  # "ittn"
    assert lcs("the cat sat".split(), "a cat sat there".split()) == 2
    assert lcs("abc", "cba") == 1


@settings(max_examples=60, deadline=None)
@given(tokens, tokens)
def test_lcs_is_the_brute_force_answer_and_symmetric(a, b):
    assert lcs(a, b) == brute_lcs(a, b) == lcs(b, a)


def test_modified_precision_by_hand():
    # Papineni et al.'s example: "the" x7 against two references with "the" twice at most
    refs = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
    assert modified_precision(refs, ["the"] * 7, 1) == (2, 7)
    assert modified_precision(refs, ["the"] * 7, 2) == (0, 6)
    # a candidate n-gram is clipped by the one reference where it is most frequent
    assert modified_precision([[1, 1, 0], [1, 2]], [1, 1, 1, 2], 1) == (3, 4)
    assert modified_precision([[1, 1, 0], [1, 2]], [1, 1, 1, 2], 2) == (2, 3)
    assert modified_precision([[]], [5], 1) == (0, 1)
    assert modified_precision([[5]], [], 2) == (0, 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(tokens, min_size=1, max_size=3), tokens, st.integers(1, 4))
def test_modified_precision_is_the_definition(references, candidate, n):
    assert modified_precision(references, candidate, n) == clipped_by_hand(references, candidate, n)


def test_oracle_ignite():
    theirs = pytest.importorskip("ignite.metrics.nlp.utils")
    rng = random.Random(0)
    for _ in range(200):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 9))]
        refs = [[rng.choice("abcd") for _ in range(rng.randint(0, 9))] for _ in range(3)]
        n = rng.randint(1, 4)
        assert list(ngrams(a, n).items()) == list(theirs.ngrams(a, n).items())
        assert lcs(a, refs[0]) == theirs.lcs(a, refs[0])
        assert modified_precision(refs, a, n) == theirs.modified_precision(refs, a, n)
