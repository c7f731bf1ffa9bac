"""``Bleu``: the BLEU score of generated sentences against their references, as Ignite 0.5.5."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Any

import torch

from miniengine.metrics.metric import Metric, _identity, _need_examples
from miniengine.metrics.nlp.utils import _check_pairs, modified_precision

__all__ = ["Bleu"]

_SMOOTHINGS = ["no_smooth", "smooth1", "nltk_smooth2", "smooth2"]
_Counts = tuple[list[int], list[int], int, int]  # matches, totals per order; hyp len, ref len


def _count(candidates: Sequence[Sequence[Any]], references: Sequence[Any], order: int) -> _Counts:
    """BLEU's sufficient statistics of a corpus: what the micro average adds up."""
    matches, totals = [0] * order, [0] * order
    hyp_len = ref_len = 0
    for hyp, refs in zip(candidates, references, strict=True):
        for k in range(order):
            matched, total = modified_precision(refs, hyp, k + 1)
            matches[k] += matched
            totals[k] += total
        hyp_len += len(hyp)
        # the reference closest in length; the shorter one on a tie
        ref_len += min((len(r) for r in refs), key=lambda n: (abs(n - len(hyp)), n))
    return matches, totals, hyp_len, ref_len


def _precisions(smooth: str, matches: Sequence[float], totals: Sequence[float]) -> list[float]:
    """The n-gram precisions p_1..p_N, smoothed (Chen & Cherry 2014) so that none is 0."""
    found, counted = list(matches), list(totals)
    if smooth != "smooth2":
        counted = [max(1, t) for t in counted]  # an order longer than the candidate: p = 0 / 1
    if smooth in ("smooth2", "nltk_smooth2"):  # add one to every order but the first
        found[1:] = [m + 1 for m in found[1:]]
        counted[1:] = [t + 1 for t in counted[1:]]
    elif smooth == "smooth1":  # an order without a match gets 0.1 of a match
        found = [m if m else 0.1 for m in found]
    return [m / t for m, t in zip(found, counted, strict=True)]


def _bleu(
    matches: Sequence[float], totals: Sequence[float], hyp_len: int, ref_len: int, smooth: str
) -> float:
    if matches[0] == 0:  # no word in common: no higher-order match either
        return 0.0
    if smooth == "no_smooth" and min(matches) == 0:  # log(0): the geometric mean is 0
        return 0.0
    brevity = math.exp(1 - ref_len / hyp_len) if hyp_len < ref_len else 1.0
    weight = 1 / len(matches)
    log_mean = math.fsum(weight * math.log(p) for p in _precisions(smooth, matches, totals))
    return brevity * math.exp(log_mean)


class Bleu(Metric):
    """BLEU: the geometric mean of the modified n-gram precisions p_1..p_N, times a brevity
    penalty.

    ``BLEU = BP * exp(sum_n log(p_n) / N)``, with ``BP = exp(1 - r / c)`` when the candidate
    length c is below the reference length r (the reference closest in length; the shorter on a
    tie), else 1. p_n counts each candidate n-gram at most as often as it occurs in one reference
    (``miniengine.metrics.nlp.utils.modified_precision``). Papineni et al. 2002; the smoothings
    are from Chen & Cherry 2014:

    - ``"no_smooth"``: the score is 0 as soon as one order has no match.
    - ``"smooth1"``: an order without a match counts 0.1 matches.
    - ``"smooth2"``: add 1 to the matches and n-gram counts of every order above 1.
    - ``"nltk_smooth2"``: the same, as nltk's ``method2`` (an order with no n-gram at all, the
      candidate being shorter than n, is counted as having 1).

    ``update`` takes ``(y_pred, y)``: ``y_pred`` a list of candidates, each a list of tokens;
    ``y`` a list, per candidate, of its references, each a list of tokens. ``"macro"`` gives the
    mean of the sentences' scores, as a float64 0-d tensor; ``"micro"`` gives one score of the
    whole corpus (counts summed over sentences, as nltk's ``corpus_bleu``), as a float. Both sum
    over processes in a distributed run.

    Args:
        ngram: the highest n-gram order N.
        smooth: ``"no_smooth"``, ``"smooth1"``, ``"nltk_smooth2"`` or ``"smooth2"``.
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: where the sums live.
        average: ``"macro"`` or ``"micro"``.

    Example:
        >>> bleu = Bleu(ngram=4, smooth="smooth1")
        >>> y_pred = "the the the the the the the".split()
        >>> y = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
        >>> bleu.update(([y_pred], [y]))
        >>> bleu.compute()
        tensor(0.0393, dtype=torch.float64)
    """

    ngrams_order: int
    weights: list[float]
    average: str
    _smooth: str

    def __init__(
        self,
        ngram: int = 4,
        smooth: str = "no_smooth",
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        average: str = "macro",
    ) -> None:
        if not isinstance(ngram, Integral) or isinstance(ngram, bool) or ngram <= 0:
            raise ValueError(f"ngram order must be greater than zero (got: {ngram})")
        if smooth not in _SMOOTHINGS:
            raise ValueError(f"Smooth is not valid (expected: {_SMOOTHINGS}, got: {smooth})")
        if average not in ("macro", "micro"):
            raise ValueError(f'Average must be either "macro" or "micro" (got: {average})')
        self.ngrams_order = int(ngram)
        self.weights = [1 / self.ngrams_order] * self.ngrams_order
        self.average = average
        self._smooth = smooth
        if average == "macro":
            sums: tuple[str, ...] = ("_sum_of_bleu", "_num_sentences")
        else:
            sums = ("p_numerators", "p_denominators", "hyp_length_sum", "ref_length_sum")
        self._accumulators = self._state_dict_all_req_keys = sums
        super().__init__(output_transform, device=device)

    def reset(self) -> None:
        """Forget the sentences seen."""
        if self.average == "macro":
            self._sum_of_bleu = torch.tensor(0.0, dtype=self._double_dtype, device=self._device)
            self._num_sentences = 0
        else:
            # Ignite's layout, so that state_dicts load across: slot n holds order n, slot 0 is 0
            size = self.ngrams_order + 1
            self.p_numerators = torch.zeros(size, dtype=self._double_dtype, device=self._device)
            self.p_denominators = torch.zeros(size, dtype=self._double_dtype, device=self._device)
            self.hyp_length_sum = 0
            self.ref_length_sum = 0

    def update(self, output: Sequence[Any]) -> None:
        """Add a batch of candidates and their references.

        Args:
            output: ``(y_pred, y)``: candidates (token lists), and per candidate a list of
                references (token lists).
        """
        candidates, references = output
        _check_pairs(candidates, references)
        if self.average == "macro":
            scores = [
                _bleu(*_count([hyp], [refs], self.ngrams_order), self._smooth)
                for hyp, refs in zip(candidates, references, strict=True)
            ]
            self._sum_of_bleu += math.fsum(scores)
            self._num_sentences += len(scores)
            return
        matches, totals, hyp_len, ref_len = _count(candidates, references, self.ngrams_order)
        added = torch.tensor([matches, totals], dtype=self._double_dtype, device=self._device)
        self.p_numerators[1:] += added[0]
        self.p_denominators[1:] += added[1]
        self.hyp_length_sum += hyp_len
        self.ref_length_sum += ref_len

    # One-off scores under Ignite's private names: Ignite's own test suite calls them.
    def _corpus_bleu(self, references: Sequence[Any], candidates: Sequence[Any]) -> float:
        _check_pairs(candidates, references)
        return _bleu(*_count(candidates, references, self.ngrams_order), self._smooth)

    def _sentence_bleu(self, references: Sequence[Any], candidate: Sequence[Any]) -> float:
        return self._corpus_bleu([references], [candidate])

    def compute(self) -> torch.Tensor | float:
        """The macro mean of the sentences' BLEU (a tensor), or the corpus's micro BLEU."""
        if self.average == "macro":
            _need_examples(self._num_sentences, "Bleu")
            return self._sum_of_bleu / self._num_sentences
        matches, totals = self.p_numerators.tolist()[1:], self.p_denominators.tolist()[1:]
        return _bleu(matches, totals, self.hyp_length_sum, self.ref_length_sum, self._smooth)
