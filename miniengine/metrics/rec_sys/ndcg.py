"""``NDCG``: normalized discounted cumulative gain of a ranking, at one or more cut-offs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real

import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics.metric import Metric, _identity
from miniengine.metrics.rec_sys.hitrate import _is_positive_int, _scores_and_labels

__all__ = ["NDCG"]

_GAINS = ("exp_rank", "linear_rank")


class NDCG(Metric):
    """Mean over users of ``DCG@k / IDCG@k``, for each cut-off ``k``.

    ``y_pred`` holds a score for every item and ``y`` its relevance (binary or graded), both of
    shape (batch, num_items), one row per user. Items are ranked by decreasing score (equal
    scores: the lower index first), and ``DCG@k = sum over positions i = 1..k of
    gain(rel_i) / log2(i + 1)``, with ``gain(r) = 2 ** r - 1`` (``"exp_rank"``) or ``r``
    (``"linear_rank"``). ``IDCG@k`` is the DCG of the items sorted by relevance, the best
    possible; a user whose IDCG is 0 scores 0. Relevances below ``relevance_threshold`` count
    as 0. ``compute`` returns one value per ``k``, in increasing order of ``k``; a ``k`` larger
    than the number of items ranks them all.

    Args:
        top_k: the cut-offs ``k``, positive integers.
        ignore_zero_hits: leave out users with no item at or above ``relevance_threshold``; if
            False, they count with NDCG 0.
        relevance_threshold: the smallest relevance that counts; lower ones become 0.
        gain_function: ``"exp_rank"`` (``2 ** r - 1``) or ``"linear_rank"`` (``r``).
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sums live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> ndcg = NDCG(top_k=[1, 2])
        >>> y_pred = torch.tensor([[0.9, 0.5, 0.1]])
        >>> y = torch.tensor([[0.0, 1.0, 0.0]])  # the one relevant item is ranked 2nd
        >>> ndcg.update((y_pred, y))
        >>> [round(v, 4) for v in ndcg.compute()]  # @2: (1 / log2(3)) / (1 / log2(2))
        [0.0, 0.6309]
    """

    required_output_keys = ("y_pred", "y")
    _accumulators = _state_dict_all_req_keys = ("_sum_ndcg_per_k", "_num_examples")
    top_k: list[int]
    ignore_zero_hits: bool
    relevance_threshold: float
    gain_function: str

    def __init__(
        self,
        top_k: list[int],
        ignore_zero_hits: bool = True,
        relevance_threshold: float = 1.0,
        gain_function: str = "exp_rank",
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not (isinstance(top_k, (list, tuple)) and top_k and all(map(_is_positive_int, top_k))):
            raise ValueError(f"top_k must be list of positive integers only, but given {top_k}")
        if gain_function not in _GAINS:
            raise ValueError(
                "gain_function must be either 'exp_rank' or 'linear_rank', "
                f"but given {gain_function}"
            )
        if isinstance(relevance_threshold, bool) or not isinstance(relevance_threshold, Real):
            raise ValueError(
                f"relevance_threshold must be a number, but given {relevance_threshold!r}"
            )
        self.top_k = sorted(top_k)
        self.ignore_zero_hits = ignore_zero_hits
        self.relevance_threshold = relevance_threshold
        self.gain_function = gain_function
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget the users seen."""
        self._sum_ndcg_per_k = torch.zeros(len(self.top_k), device=self._device)
        self._num_examples = 0

    def _gain(self, relevance: torch.Tensor) -> torch.Tensor:
        return 2.0**relevance - 1 if self.gain_function == "exp_rank" else relevance

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Add each user's NDCG at every ``k``.

        Args:
            output: ``(y_pred, y)``, both of shape (batch, num_items).
        """
        y_pred, y = _scores_and_labels(output)
        counts = y >= self.relevance_threshold
        if self.ignore_zero_hits:
            has_relevant = counts.any(dim=-1)
            y_pred, y, counts = y_pred[has_relevant], y[has_relevant], counts[has_relevant]
        if y.shape[0] == 0:
            return
        relevance = torch.where(counts, y, 0)
        depth = min(self.top_k[-1], y.shape[-1])
        # stable: equal scores keep the item order, so the ranking is reproducible
        order = torch.argsort(y_pred, dim=-1, descending=True, stable=True)[:, :depth]
        gain = self._gain(relevance.gather(-1, order))
        ideal_gain = self._gain(relevance.sort(dim=-1, descending=True).values[:, :depth])
        positions = torch.arange(2, depth + 2, dtype=torch.float32, device=y.device)
        discount = 1.0 / torch.log2(positions)
        for i, k in enumerate(self.top_k):
            dcg = (gain[:, :k] * discount[:k]).sum(dim=-1)
            idcg = (ideal_gain[:, :k] * discount[:k]).sum(dim=-1)
            ndcg = torch.where(idcg > 0, dcg / idcg, torch.zeros_like(dcg))
            self._sum_ndcg_per_k[i] += ndcg.sum().to(self._device)
        self._num_examples += y.shape[0]

    def compute(self) -> list[float]:
        """The mean NDCG at each ``k``, smallest ``k`` first."""
        if self._num_examples == 0:
            raise NotComputableError("NDCG must have at least one example.")
        return (self._sum_ndcg_per_k / self._num_examples).tolist()
