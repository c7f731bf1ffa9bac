"""``HitRate``: the fraction of users with at least one relevant item among their top k."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics.metric import Metric, _identity

__all__ = ["HitRate"]


def _is_positive_int(k: Any) -> bool:
    return isinstance(k, int) and k > 0


def _scores_and_labels(output: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``output`` as ``(y_pred, y)``, detached, after the checks both ranking metrics share."""
    if len(output) != 2:
        raise ValueError(
            f"output should be in format `(y_pred,y)` but got tuple of {len(output)} tensors."
        )
    y_pred, y = output[0].detach(), output[1].detach()
    if y_pred.shape != y.shape:
        raise ValueError(
            f"y_pred and y must be in the same shape, got {y_pred.shape} != {y.shape}."
        )
    if y.ndim != 2:
        raise ValueError(f"y_pred and y must have shape (batch, num_items), got {tuple(y.shape)}.")
    return y_pred, y


class HitRate(Metric):
    """Fraction of users whose ``k`` best-scored items hold at least one relevant item, per k.

    ``y_pred`` holds a score for every item of the catalog and ``y`` marks the relevant ones
    (``y > 0``); both have shape (batch, num_items), one row per user. A user counts as one hit
    at ``k`` however many relevant items are among its top ``k``. ``compute`` returns a list
    with one rate per ``k``, in increasing order of ``k``. Items with equal scores are ranked
    as ``torch.topk`` ranks them.

    Args:
        top_k: the cut-off ``k``, or a list of them; each a positive integer no larger than
            the number of items.
        ignore_zero_hits: leave out users with no relevant item; if False, they count as misses.
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the counts live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> hr = HitRate(top_k=[1, 2])
        >>> y_pred = torch.tensor([[0.9, 0.5, 0.1], [0.2, 0.3, 0.8]])
        >>> y = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        >>> hr.update((y_pred, y))  # user 0's relevant item is 2nd, user 1's is 1st
        >>> hr.compute()
        [0.5, 1.0]
    """

    required_output_keys = ("y_pred", "y")
    _accumulators = _state_dict_all_req_keys = ("_hits_per_k", "_num_examples")
    top_k: list[int]
    ignore_zero_hits: bool

    def __init__(
        self,
        top_k: list[int] | int = 1,
        ignore_zero_hits: bool = True,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if isinstance(top_k, int):
            top_k = [top_k]
        elif not isinstance(top_k, list):
            raise ValueError(f"top_k must be either int or a list[int], but given {top_k!r}")
        if not top_k:
            raise ValueError("top_k must have at least one positive value, but given []")
        if not all(_is_positive_int(k) for k in top_k):
            raise ValueError(f"top_k must be list of positive integers only, but given {top_k}")
        self.top_k = sorted(top_k)
        self.ignore_zero_hits = ignore_zero_hits
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget the users seen."""
        self._hits_per_k = torch.zeros(len(self.top_k), device=self._device)
        self._num_examples = 0

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Count, for each ``k``, the users of this batch with a hit in their top ``k``.

        Args:
            output: ``(y_pred, y)``, both of shape (batch, num_items).
        """
        y_pred, y = _scores_and_labels(output)
        if self.ignore_zero_hits:
            has_relevant = (y > 0).any(dim=-1)
            y_pred, y = y_pred[has_relevant], y[has_relevant]
        if y.shape[0] == 0:
            return
        depth = self.top_k[-1]
        if depth > y.shape[-1]:
            # torch.topk's own error ("selected index k out of range") does not say which k
            raise RuntimeError(
                f"top_k must not exceed the number of items: top_k={self.top_k}, "
                f"but y_pred has {y.shape[-1]} items."
            )
        best_first = y_pred.topk(depth, dim=-1).indices
        relevant_at = y.gather(-1, best_first) > 0
        # found[:, i]: a relevant item among the first i + 1
        found = relevant_at.int().cummax(dim=-1).values
        hits = found[:, [k - 1 for k in self.top_k]].sum(dim=0)
        self._hits_per_k += hits.to(self._device)
        self._num_examples += y.shape[0]

    def compute(self) -> list[float]:
        """The hit rate at each ``k``, smallest ``k`` first."""
        if self._num_examples == 0:
            raise NotComputableError("HitRate must have at least one example.")
        return (self._hits_per_k / self._num_examples).tolist()
