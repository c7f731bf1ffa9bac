"""Bleu: by hand from the definition, nltk's documented values, Ignite as oracle, attach,
state_dict, errors, two ranks."""

from __future__ import annotations

import math
import random

import pytest
import torch

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import Bleu

SMOOTHINGS = ["no_smooth", "smooth1", "nltk_smooth2", "smooth2"]
REFS_CAT = ["the cat is on the mat".split(), "there is a cat on the mat".split()]

# nltk's bleu_score docstring example (Papineni et al.'s sentences)
HYP_1 = "It is a guide to action which ensures that the military always obeys the commands of "
HYP_1 = (HYP_1 + "the party").split()
REFS_1 = [
    "It is a guide to action that ensures that the military will forever heed Party commands",
    "It is the guiding principle which guarantees the military forces always being under the "
    "command of the Party",
    "It is the practical guide for the army always to heed the directions of the party",
]
REFS_1 = [r.split() for r in REFS_1]
HYP_2 = "he read the book because he was interested in world history".split()
REFS_2 = ["he was interested in world history because he read the book".split()]


def grams(tokens, n):
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def sentence_stats(hyp, refs, order):
    """Per order: (clipped matches, candidate n-grams); then the length c and the closest r."""
    matches, totals = [], []
    for n in range(1, order + 1):
        mine = grams(hyp, n)
        most = {g: max(grams(r, n).count(g) for r in refs) for g in set(mine)}
        matches.append(sum(min(mine.count(g), most[g]) for g in set(mine)))
        totals.append(len(mine))
    closest = sorted(refs, key=lambda r: (abs(len(r) - len(hyp)), len(r)))[0]
    return matches, totals, len(hyp), len(closest)


def bleu_by_hand(matches, totals, c, r, smooth):
    """BP * (p_1 * ... * p_N) ** (1 / N), p_n smoothed as Chen & Cherry 2014 (and nltk)."""
    if matches[0] == 0:
        return 0.0
    clamped = [max(t, 1) for t in totals]
    if smooth == "no_smooth":
        if 0 in matches:
            return 0.0
        p = [m / t for m, t in zip(matches, clamped, strict=True)]
    elif smooth == "smooth1":
        p = [(m if m > 0 else 0.1) / t for m, t in zip(matches, clamped, strict=True)]
    else:
        base = clamped if smooth == "nltk_smooth2" else totals
        p = [matches[0] / base[0]]
        p += [(m + 1) / (t + 1) for m, t in zip(matches[1:], base[1:], strict=True)]
    bp = 1.0 if c >= r else math.exp(1 - r / c)
    return bp * math.prod(p) ** (1 / len(p))


def by_hand(candidates, references, order, smooth, average):
    stats = [sentence_stats(h, rs, order) for h, rs in zip(candidates, references, strict=True)]
    if average == "macro":
        return sum(bleu_by_hand(*s, smooth) for s in stats) / len(stats)
    summed = [[sum(col) for col in zip(*(s[k] for s in stats), strict=True)] for k in (0, 1)]
    c, r = sum(s[2] for s in stats), sum(s[3] for s in stats)
    return bleu_by_hand(*summed, c, r, smooth)


def corpus(rng, size):
    """Sentences over a 5-word vocabulary (many matches), 0 to 9 words, 1 to 3 references."""

    def sentence():
        return [rng.choice("abcde") for _ in range(rng.randint(0, 9))]

    return [sentence() for _ in range(size)], [
        [sentence() for _ in range(rng.randint(1, 3))] for _ in range(size)
    ]


def value(metric):
    result = metric.compute()
    return result.item() if isinstance(result, torch.Tensor) else result


def test_the_papers_example_by_hand():
    the7 = ["the"] * 7
    bleu = Bleu(ngram=1)
    bleu.update(([the7], [REFS_CAT]))
    assert value(bleu) == pytest.approx(2 / 7)  # "the" is clipped to 2; c = r = 7: no penalty
    bleu = Bleu(ngram=2)
    bleu.update(([the7], [REFS_CAT]))
    assert value(bleu) == 0.0  # no bigram matches
    bleu = Bleu(ngram=2, smooth="smooth1")
    bleu.update(([the7], [REFS_CAT]))
    assert value(bleu) == pytest.approx(math.sqrt(2 / 7 * 0.1 / 6))
    bleu = Bleu(ngram=4, smooth="smooth1")  # Ignite's docstring example
    bleu.update(([the7], [REFS_CAT]))
    assert value(bleu) == pytest.approx(0.0393, abs=1e-4)


def test_brevity_penalty_by_hand():
    bleu = Bleu(ngram=1, average="micro")
    bleu.update(([["a", "b"]], [[["a", "b", "c", "d"], ["a", "b", "c", "d", "e", "f"]]]))
    assert bleu.compute() == pytest.approx(math.exp(1 - 4 / 2))  # r: the closest length, 4


def test_nltk_documented_values():
    macro = Bleu()
    macro.update(([HYP_1], [REFS_1]))
    assert value(macro) == pytest.approx(0.5045666840058485, rel=1e-12)
    micro = Bleu(average="micro")
    micro.update(([HYP_1, HYP_2], [REFS_1, REFS_2]))
    assert micro.compute() == pytest.approx(0.5920778868801042, rel=1e-12)


@pytest.mark.parametrize("average", ["macro", "micro"])
@pytest.mark.parametrize("smooth", SMOOTHINGS)
def test_random_corpora_by_hand_and_oracle(smooth, average):
    rng = random.Random(f"{smooth} {average}")  # str seeds are stable across runs
    cases = [(corpus(rng, rng.randint(1, 4)), rng.randint(1, 5)) for _ in range(40)]
    for (candidates, references), order in cases:
        bleu = Bleu(ngram=order, smooth=smooth, average=average)
        half = len(candidates) // 2
        bleu.update((candidates[:half], references[:half]))
        bleu.update((candidates[half:], references[half:]))
        expected = by_hand(candidates, references, order, smooth, average)
        assert value(bleu) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    ignite_nlp = pytest.importorskip("ignite.metrics.nlp")
    # Ignite divides in float32 for macro "no_smooth"; we stay in float64
    rel = 1e-6 if (smooth, average) == ("no_smooth", "macro") else 1e-12
    for (candidates, references), order in cases:
        ours, theirs = (
            m(ngram=order, smooth=smooth, average=average) for m in (Bleu, ignite_nlp.Bleu)
        )
        ours.update((candidates, references))
        theirs.update((candidates, references))
        assert value(ours) == pytest.approx(float(theirs.compute()), rel=rel, abs=1e-15)


@pytest.mark.parametrize("average", ["macro", "micro"])
def test_attached_to_an_engine(average):
    rng = random.Random(3)
    candidates, references = corpus(rng, 12)
    batches = [(candidates[i : i + 5], references[i : i + 5]) for i in range(0, 12, 5)]
    engine = Engine(lambda e, b: b)
    Bleu(ngram=2, smooth="smooth1", average=average).attach(engine, "bleu")
    got = engine.run(batches, max_epochs=2).metrics["bleu"]
    assert isinstance(got, float)  # a 0-d tensor is written as a number
    assert got == pytest.approx(by_hand(candidates, references, 2, "smooth1", average))


def test_output_types_and_empty_states():
    macro = Bleu()
    with pytest.raises(NotComputableError, match="Bleu must have at least one example"):
        macro.compute()
    macro.update(([HYP_1], [REFS_1]))
    assert macro.compute().dtype == torch.float64 and macro.compute().ndim == 0
    micro = Bleu(average="micro")
    assert micro.compute() == 0.0  # as Ignite: nothing matched yet, no error
    micro.update(([HYP_1], [REFS_1]))
    assert isinstance(micro.compute(), float)
    macro.reset()
    with pytest.raises(NotComputableError):
        macro.compute()


def test_errors():
    with pytest.raises(ValueError, match=r"ngram order must be greater than zero \(got: 0\)"):
        Bleu(ngram=0)
    with pytest.raises(ValueError, match="ngram order must be greater than zero"):
        Bleu(ngram=2.5)
    with pytest.raises(ValueError, match=r"Smooth is not valid \(expected: \[.*\], got: fake\)"):
        Bleu(smooth="fake")
    with pytest.raises(ValueError, match='Average must be either "macro" or "micro"'):
        Bleu(average="macros")
    for average in ("macro", "micro"):
        bleu = Bleu(average=average)
        with pytest.raises(ValueError, match=r"nb of candidates .* reference lists \(1 != 2\)"):
            bleu.update(([HYP_1], [REFS_1, REFS_2]))
        with pytest.raises(ValueError, match="at least one reference"):
            bleu.update(([HYP_1], [[]]))


@pytest.mark.parametrize("average", ["macro", "micro"])
def test_state_dict_round_trip_and_ignite_format(average):
    bleu = Bleu(ngram=3, smooth="smooth2", average=average)
    bleu.update(([HYP_1, HYP_2], [REFS_1, REFS_2]))
    state = bleu.state_dict()
    copy = Bleu(ngram=3, smooth="smooth2", average=average)
    copy.load_state_dict(state)
    assert value(copy) == value(bleu)
    ignite_nlp = pytest.importorskip("ignite.metrics.nlp")
    theirs = ignite_nlp.Bleu(ngram=3, smooth="smooth2", average=average)
    theirs.update(([HYP_1, HYP_2], [REFS_1, REFS_2]))
    their_state = theirs.state_dict()
    assert list(state["__metric_state_per_rank"][0]) == list(
        their_state["__metric_state_per_rank"][0]
    )
    fresh = Bleu(ngram=3, smooth="smooth2", average=average)
    fresh.load_state_dict(their_state)
    assert value(fresh) == pytest.approx(float(theirs.compute()), rel=1e-12)


def _shard(rank):
    return corpus(random.Random(100 + rank), 3 + 2 * rank)  # uneven: 3 and 5 sentences


def _two_ranks(rank, out):
    seen = {}
    candidates, references = _shard(rank)
    for average in ("macro", "micro"):
        bleu = Bleu(ngram=2, smooth="smooth1", average=average)
        engine = Engine(lambda e, b: b)
        bleu.attach(engine, "bleu")
        seen[average] = engine.run([(candidates, references)]).metrics["bleu"]
    # No Ignite oracle in here: a process that used Ignite's Bleu with a process group made
    # outside Ignite sometimes aborts at exit ("terminate called without an active exception").
    torch.save(seen, out / f"bleu{rank}.pt")


def test_two_ranks_pool_every_sentence(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    (c0, r0), (c1, r1) = _shard(0), _shard(1)
    for rank in range(2):
        seen = torch.load(tmp_path / f"bleu{rank}.pt")
        for average in ("macro", "micro"):
            expected = by_hand(c0 + c1, r0 + r1, 2, "smooth1", average)
            assert seen[average] == pytest.approx(expected, rel=1e-12)
