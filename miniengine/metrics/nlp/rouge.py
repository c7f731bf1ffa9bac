"""``RougeN``, ``RougeL`` and ``Rouge`` (several of them at once): ROUGE precision, recall and
F-measure of generated sentences against their references, as Ignite 0.5.5.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from miniengine import distributed as idist
from miniengine.exceptions import NotComputableError
from miniengine.metrics.metric import Metric, MetricUsage, _identity
from miniengine.metrics.nlp.utils import _check_pairs, lcs, ngrams

if TYPE_CHECKING:
    from miniengine.engine import Engine

__all__ = ["Rouge", "RougeL", "RougeN"]


class Score(NamedTuple):
    """What one candidate shares with one reference: matches, and the two sizes.

    Args:
        match: the number of matched units (n-grams, or the LCS length).
        candidate: the number of units of the candidate.
        reference: the number of units of the reference.

    Example:
        >>> s = Score(match=2, candidate=4, reference=5)
        >>> s.precision(), s.recall()
        (0.5, 0.4)
    """

    match: int
    candidate: int
    reference: int

    def precision(self) -> float:
        """Matches per candidate unit; 0 for an empty candidate."""
        return self.match / self.candidate if self.candidate > 0 else 0.0

    def recall(self) -> float:
        """Matches per reference unit; 0 for an empty reference."""
        return self.match / self.reference if self.reference > 0 else 0.0


def compute_ngram_scores(candidate: Sequence[Any], reference: Sequence[Any], n: int = 4) -> Score:
    """ROUGE-N counts: n-grams shared by candidate and reference (each as often as in both).

    Args:
        candidate: the candidate's tokens.
        reference: the reference's tokens.
        n: the n-gram order.

    Example:
        >>> compute_ngram_scores("aab", "aace", n=1)
        Score(match=2, candidate=3, reference=4)
    """
    in_candidate, in_reference = ngrams(candidate, n), ngrams(reference, n)
    shared = sum((in_candidate & in_reference).values())
    return Score(shared, sum(in_candidate.values()), sum(in_reference.values()))


def compute_lcs_scores(candidate: Sequence[Any], reference: Sequence[Any]) -> Score:
    """ROUGE-L counts: the longest common subsequence's length, and the two lengths.

    Args:
        candidate: the candidate's tokens.
        reference: the reference's tokens.

    Example:
        >>> compute_lcs_scores("the cat sat".split(), "the black cat".split())
        Score(match=2, candidate=3, reference=3)
    """
    return Score(lcs(candidate, reference), len(candidate), len(reference))


class _RougeVariant(Metric):
    """One ROUGE variant: the mean over candidates of P, R and F; subclasses say what matches."""

    _accumulators = _state_dict_all_req_keys = (
        "_recall",
        "_precision",
        "_fmeasure",
        "_num_examples",
    )
    _alpha: float
    _multiref: str

    def __init__(
        self, multiref: str, alpha: float, output_transform: Callable, device: str | torch.device
    ) -> None:
        if not isinstance(alpha, Real) or not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in interval [0, 1] (got : {alpha})")
        if multiref not in ("best", "average"):
            raise ValueError(f"multiref : valid values are ['best', 'average'] (got : {multiref})")
        self._alpha = alpha
        self._multiref = multiref
        super().__init__(output_transform, device=device)

    def _score(self, candidate: Sequence[Any], reference: Sequence[Any]) -> Score:
        raise NotImplementedError

    def _name(self) -> str:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the candidates seen."""
        self._precision = self._recall = self._fmeasure = 0.0
        self._num_examples = 0

    def _against_references(self, candidate: Sequence[Any], references: Sequence[Any]) -> Score:
        scores = [self._score(candidate, reference) for reference in references]
        if self._multiref == "best":
            return max(scores, key=Score.recall)  # the first of equal recalls
        # "average": pool the counts, as if the references were one long reference
        return Score(*(sum(column) for column in zip(*scores, strict=True)))

    def update(self, output: Sequence[Any]) -> None:
        """Add a batch of candidates and their references.

        Args:
            output: ``(y_pred, y)``: candidates (token lists), and per candidate a list of
                references (token lists).
        """
        candidates, references = output
        _check_pairs(candidates, references)
        a = self._alpha
        for candidate, refs in zip(candidates, references, strict=True):
            score = self._against_references(candidate, refs)
            p, r = score.precision(), score.recall()
            self._precision += p
            self._recall += r
            if p * r > 0:  # F is 0 when either is, and the formula would divide by 0
                self._fmeasure += p * r / ((1 - a) * p + a * r)
            self._num_examples += 1

    def compute(self) -> dict[str, float]:
        """``{"<name>-P": precision, "<name>-R": recall, "<name>-F": F}``, means over
        candidates."""
        if self._num_examples == 0:
            raise NotComputableError(
                "Rouge metric must have at least one example before being computed"
            )
        n, name = self._num_examples, self._name()
        return {
            f"{name}-P": float(self._precision / n),
            f"{name}-R": float(self._recall / n),
            f"{name}-F": float(self._fmeasure / n),
        }


class RougeN(_RougeVariant):
    """ROUGE-N (Lin 2004): precision, recall and F-measure of shared n-grams.

    Per candidate: P = shared n-grams / candidate n-grams, R = shared / reference n-grams, and
    ``F = P * R / ((1 - alpha) * P + alpha * R)`` (0 when P or R is); the results are the means
    over candidates, under the keys ``"Rouge-<n>-P"``, ``"-R"`` and ``"-F"``. With several
    references, ``"average"`` pools their counts and ``"best"`` keeps the reference of highest
    recall. ``update`` takes ``(y_pred, y)``: candidates (token lists), and per candidate a list
    of references (token lists). Sums over processes in a distributed run.

    Args:
        ngram: the n-gram order.
        multiref: ``"average"`` or ``"best"``: how several references combine.
        alpha: F's weight between recall (0: F is R) and precision (1: F is P).
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: kept for Ignite's signature; the sums are Python numbers.

    Example:
        >>> rouge = RougeN(ngram=2, multiref="best")
        >>> candidate = "the cat is not there".split()
        >>> references = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
        >>> rouge.update(([candidate], [references]))
        >>> rouge.compute()
        {'Rouge-2-P': 0.5, 'Rouge-2-R': 0.4, 'Rouge-2-F': 0.4}
    """

    _ngram: int

    def __init__(
        self,
        ngram: int = 4,
        multiref: str = "average",
        alpha: float = 0,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
    ) -> None:
        if not isinstance(ngram, Integral) or isinstance(ngram, bool) or ngram < 1:
            raise ValueError(f"ngram order must be greater than zero (got : {ngram})")
        self._ngram = int(ngram)
        super().__init__(multiref, alpha, output_transform, device)

    def _score(self, candidate: Sequence[Any], reference: Sequence[Any]) -> Score:
        return compute_ngram_scores(candidate, reference, n=self._ngram)

    def _name(self) -> str:
        return f"Rouge-{self._ngram}"


class RougeL(_RougeVariant):
    """ROUGE-L (Lin 2004): precision, recall and F-measure of the longest common subsequence.

    As ``RougeN``, with the LCS length as the matches and the lengths as the sizes: P = LCS /
    candidate length, R = LCS / reference length. Keys ``"Rouge-L-P"``, ``"-R"``, ``"-F"``.

    Args:
        multiref: ``"average"`` or ``"best"``: how several references combine.
        alpha: F's weight between recall (0: F is R) and precision (1: F is P).
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: kept for Ignite's signature; the sums are Python numbers.

    Example:
        >>> rouge = RougeL(multiref="best")
        >>> candidate = "the cat is not there".split()
        >>> references = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
        >>> rouge.update(([candidate], [references]))
        >>> rouge.compute()
        {'Rouge-L-P': 0.6, 'Rouge-L-R': 0.5, 'Rouge-L-F': 0.5}
    """

    def __init__(
        self,
        multiref: str = "average",
        alpha: float = 0,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(multiref, alpha, output_transform, device)

    def _score(self, candidate: Sequence[Any], reference: Sequence[Any]) -> Score:
        return compute_lcs_scores(candidate, reference)

    def _name(self) -> str:
        return "Rouge-L"


class Rouge(Metric):
    """Several ROUGE variants at once: ``RougeN`` for each integer n, ``RougeL`` for ``"L"``.

    ``compute()`` merges their dicts, in the order of ``variants``. Attached to an engine, each
    key (``"Rouge-1-P"``, ...) goes to ``engine.state.metrics`` as well as the dict.

    Args:
        variants: integers n >= 1 and/or ``"L"``; default (``None`` or empty) ``[1, 2, 4, "L"]``.
        multiref: ``"average"`` or ``"best"``: how several references combine.
        alpha: F's weight between recall (0: F is R) and precision (1: F is P).
        output_transform: maps the engine's output to ``(y_pred, y)``.
        device: kept for Ignite's signature.

    Example:
        >>> rouge = Rouge(variants=["L", 2], multiref="best")
        >>> candidate = "the cat is not there".split()
        >>> references = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
        >>> rouge.update(([candidate], [references]))
        >>> rouge.compute()  # doctest: +NORMALIZE_WHITESPACE
        {'Rouge-L-P': 0.6, 'Rouge-L-R': 0.5, 'Rouge-L-F': 0.5,
         'Rouge-2-P': 0.5, 'Rouge-2-R': 0.4, 'Rouge-2-F': 0.4}
    """

    _state_dict_all_req_keys = ("internal_metrics",)

    def __init__(
        self,
        variants: Sequence[str | int] | None = None,
        multiref: str = "average",
        alpha: float = 0,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
    ) -> None:
        common: dict[str, Any] = {
            "multiref": multiref,
            "alpha": alpha,
            "output_transform": output_transform,
            "device": device,
        }
        self.internal_metrics: list[_RougeVariant] = []
        for variant in variants or [1, 2, 4, "L"]:
            if variant == "L":
                self.internal_metrics.append(RougeL(**common))
            elif isinstance(variant, Integral) and not isinstance(variant, bool):
                self.internal_metrics.append(RougeN(ngram=int(variant), **common))
            else:
                raise ValueError(
                    f"variant must be 'L' or integer greater to zero (got: {variant!r})"
                )
        super().__init__(output_transform, device=device)

    def reset(self) -> None:
        """Reset every variant."""
        for metric in self.internal_metrics:
            metric.reset()

    def update(self, output: Sequence[Any]) -> None:
        """Give the batch to every variant.

        Args:
            output: ``(y_pred, y)``, as for ``RougeN``.
        """
        for metric in self.internal_metrics:
            metric.update(output)

    def compute(self) -> dict[str, float]:
        """The variants' results in one dict."""
        merged: dict[str, float] = {}
        for metric in self.internal_metrics:
            merged.update(metric.compute())
        return merged

    def _attach_updates(self, engine: Engine, usage: MetricUsage) -> None:
        # the variants reduce over ranks themselves, so they need the world size of now, not
        # of when they were made (perhaps before the process group)
        for metric in self.internal_metrics:
            metric._world_size = idist.get_world_size()
        super()._attach_updates(engine, usage)
