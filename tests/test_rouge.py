"""RougeN, RougeL, Rouge: by hand from the definitions, Ignite as oracle, attach, state_dict,
errors, two ranks."""

from __future__ import annotations

import functools
import random

import pytest
import torch

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import Rouge, RougeL, RougeN
from miniengine.metrics.nlp.rouge import Score, compute_lcs_scores, compute_ngram_scores

CANDIDATE = "the cat is not there".split()
REFERENCES = ["the cat is on the mat".split(), "there is a cat on the mat".split()]


def brute_lcs(a, b):
    @functools.cache
    def longest(i, j):
        if i == len(a) or j == len(b):
            return 0
        if a[i] == b[j]:
            return 1 + longest(i + 1, j + 1)
        return max(longest(i + 1, j), longest(i, j + 1))

    return longest(0, 0)


def counts_by_hand(candidate, reference, variant):
    """(matches, candidate size, reference size) of one pair, for variant n or "L"."""
    if variant == "L":
        return brute_lcs(tuple(candidate), tuple(reference)), len(candidate), len(reference)
    c = [tuple(candidate[i : i + variant]) for i in range(len(candidate) - variant + 1)]
    r = [tuple(reference[i : i + variant]) for i in range(len(reference) - variant + 1)]
    return sum(min(c.count(g), r.count(g)) for g in set(c)), len(c), len(r)


def by_hand(candidates, references, variant, multiref, alpha):
    """Means over candidates of P, R and F = P R / ((1 - alpha) P + alpha R)."""
    total_p = total_r = total_f = 0.0
    for candidate, refs in zip(candidates, references, strict=True):
        per_ref = [counts_by_hand(candidate, ref, variant) for ref in refs]
        if multiref == "average":  # counts pooled over the references
            m, c, r = (sum(x[k] for x in per_ref) for k in range(3))
        else:  # the reference with the highest recall, the first of equals
            recalls = [x[0] / x[2] if x[2] else 0.0 for x in per_ref]
            m, c, r = per_ref[recalls.index(max(recalls))]
        p, rec = (m / c if c else 0.0), (m / r if r else 0.0)
        total_p, total_r = total_p + p, total_r + rec
        total_f += p * rec / ((1 - alpha) * p + alpha * rec) if p * rec else 0.0
    n, name = len(candidates), f"Rouge-{variant}"
    return {f"{name}-P": total_p / n, f"{name}-R": total_r / n, f"{name}-F": total_f / n}


def corpus(rng, size):
    def sentence():
        return [rng.choice("abcde") for _ in range(rng.randint(0, 8))]

    return [sentence() for _ in range(size)], [
        [sentence() for _ in range(rng.randint(1, 3))] for _ in range(size)
    ]


def test_scores_by_hand():
    assert compute_ngram_scores("aab", "aace", n=1) == Score(2, 3, 4)
    assert compute_ngram_scores("abc", "ab", n=2) == Score(1, 2, 1)
    assert compute_ngram_scores("abc", "ab", n=3) == Score(0, 1, 0)
    assert compute_ngram_scores("abc", "ab", n=3).recall() == 0.0  # no reference trigram
    assert compute_lcs_scores(CANDIDATE, REFERENCES[0]) == Score(3, 5, 6)  # "the cat is"
    assert compute_lcs_scores(CANDIDATE, REFERENCES[1]) == Score(1, 5, 7)
    assert Score(3, 5, 6).precision() == 0.6 and Score(3, 5, 6).recall() == 0.5
    assert Score(0, 0, 0).precision() == 0.0


def test_the_example_by_hand():
    best = RougeL(multiref="best")
    best.update(([CANDIDATE], [REFERENCES]))
    assert best.compute() == {"Rouge-L-P": 0.6, "Rouge-L-R": 0.5, "Rouge-L-F": 0.5}
    pooled = RougeL(alpha=0.5)  # LCS 3 + 1 of 5 + 5 candidate and 6 + 7 reference tokens
    pooled.update(([CANDIDATE], [REFERENCES]))
    p, r = 4 / 10, 4 / 13
    assert pooled.compute() == pytest.approx(
        {"Rouge-L-P": p, "Rouge-L-R": r, "Rouge-L-F": 2 * p * r / (p + r)}
    )
    bigrams = RougeN(ngram=2, multiref="best")  # "the cat", "cat is" of 4; ref 1 has 5
    bigrams.update(([CANDIDATE], [REFERENCES]))
    assert bigrams.compute() == {"Rouge-2-P": 0.5, "Rouge-2-R": 0.4, "Rouge-2-F": 0.4}


@pytest.mark.parametrize("alpha", [0, 0.3, 1])
def test_alpha_weighs_precision_against_recall(alpha):
    rouge = RougeN(ngram=1, alpha=alpha)
    rouge.update(([list("abcdef")], [[list("zbdfz")]]))  # 3 shared of 6 and of 5
    p, r = 3 / 6, 3 / 5
    f = {0: r, 1: p}.get(alpha, p * r / ((1 - alpha) * p + alpha * r))
    assert rouge.compute() == pytest.approx({"Rouge-1-P": p, "Rouge-1-R": r, "Rouge-1-F": f})


@pytest.mark.parametrize("multiref", ["average", "best"])
def test_random_corpora_by_hand_and_oracle(multiref):
    rng = random.Random(multiref)
    variants = [1, 2, 3, "L"]
    cases = [(corpus(rng, rng.randint(1, 4)), rng.choice([0, 0.5, 0.8, 1])) for _ in range(30)]
    for (candidates, references), alpha in cases:
        rouge = Rouge(variants=variants, multiref=multiref, alpha=alpha)
        rouge.update((candidates[:1], references[:1]))
        rouge.update((candidates[1:], references[1:]))
        got = rouge.compute()
        expected = {}
        for variant in variants:
            expected.update(by_hand(candidates, references, variant, multiref, alpha))
        assert list(got) == list(expected)
        assert got == pytest.approx(expected, rel=1e-12)
    ignite_nlp = pytest.importorskip("ignite.metrics.nlp")
    for (candidates, references), alpha in cases:
        ours, theirs = (m(variants, multiref, alpha) for m in (Rouge, ignite_nlp.Rouge))
        ours.update((candidates, references))
        theirs.update((candidates, references))
        assert ours.compute() == theirs.compute()


def test_default_variants_and_attached_to_an_engine():
    rng = random.Random(5)
    candidates, references = corpus(rng, 7)
    engine = Engine(lambda e, b: b)
    Rouge().attach(engine, "rouge")
    batches = [(candidates[:4], references[:4]), (candidates[4:], references[4:])]
    metrics = engine.run(batches, max_epochs=2).metrics
    expected = {}
    for variant in (1, 2, 4, "L"):
        expected.update(by_hand(candidates, references, variant, "average", 0))
    assert list(metrics["rouge"]) == list(expected)  # the default [1, 2, 4, "L"], in order
    assert metrics["rouge"] == pytest.approx(expected, rel=1e-12)
    assert metrics["Rouge-L-F"] == metrics["rouge"]["Rouge-L-F"]  # keys spread, as Ignite


def test_errors():
    with pytest.raises(ValueError, match=r"ngram order must be greater than zero \(got : 0\)"):
        RougeN(ngram=0)
    for alpha in (-1, 2):
        with pytest.raises(ValueError, match=r"alpha must be in interval \[0, 1\] \(got : "):
            RougeN(alpha=alpha)
    with pytest.raises(ValueError, match=r"multiref : valid values are \['best', 'average'\] "):
        RougeL(multiref="")
    with pytest.raises(ValueError, match="variant must be 'L' or integer greater to zero"):
        Rouge(variants=["error"])
    with pytest.raises(ValueError, match="ngram order must be greater than zero"):
        Rouge(variants=[0])
    with pytest.raises(ValueError, match="multiref"):
        Rouge(multiref="unknown")
    with pytest.raises(NotComputableError, match="Rouge metric must have at least one example"):
        RougeL().compute()
    with pytest.raises(NotComputableError):
        Rouge().compute()
    rouge = RougeN(ngram=1)
    with pytest.raises(ValueError, match=r"nb of candidates .* reference lists \(1 != 2\)"):
        rouge.update(([CANDIDATE], [REFERENCES, REFERENCES]))
    with pytest.raises(ValueError, match="at least one reference"):
        rouge.update(([CANDIDATE], [[]]))


def test_state_dict_round_trip_and_ignite_format():
    rouge = Rouge(variants=[2, "L"], alpha=0.5)
    rouge.update(([CANDIDATE], [REFERENCES]))
    copy = Rouge(variants=[2, "L"], alpha=0.5)
    copy.load_state_dict(rouge.state_dict())
    assert copy.compute() == rouge.compute()
    ignite_nlp = pytest.importorskip("ignite.metrics.nlp")
    theirs = ignite_nlp.Rouge(variants=[2, "L"], alpha=0.5)
    theirs.update(([CANDIDATE], [REFERENCES]))
    fresh = Rouge(variants=[2, "L"], alpha=0.5)
    fresh.load_state_dict(theirs.state_dict())
    assert fresh.compute() == theirs.compute() == rouge.compute()


def _shard(rank):
    return corpus(random.Random(200 + rank), 2 + 3 * rank)  # uneven: 2 and 5 sentences


def _two_ranks(rank, out):
    candidates, references = _shard(rank)
    rouge = Rouge(variants=[1, "L"], alpha=0.5)
    engine = Engine(lambda e, b: b)
    rouge.attach(engine, "rouge")
    # by hand only: Ignite's metrics, used on a process group made outside Ignite, sometimes
    # make the process abort at exit (see test_bleu.py)
    torch.save(engine.run([(candidates, references)]).metrics["rouge"], out / f"rouge{rank}.pt")


def test_two_ranks_pool_every_sentence(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    (c0, r0), (c1, r1) = _shard(0), _shard(1)
    expected = {}
    for variant in (1, "L"):
        expected.update(by_hand(c0 + c1, r0 + r1, variant, "average", 0.5))
    for rank in range(2):
        assert torch.load(tmp_path / f"rouge{rank}.pt") == pytest.approx(expected, rel=1e-12)
