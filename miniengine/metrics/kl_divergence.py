"""``KLDivergence``: the mean Kullback-Leibler divergence between two softmax distributions."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from miniengine.metrics.entropy import _class_rows
from miniengine.metrics.metric import Metric, _need_examples

__all__ = ["KLDivergence"]


class KLDivergence(Metric):
    """Mean over predictions of ``KL(p || q) = sum_c p_c log(p_c / q_c)``.

    ``p = softmax(y)`` is the target distribution and ``q = softmax(y_pred)`` the predicted
    one: both are given as unnormalised logits of one shape, ``(B, C)`` or ``(B, C, ...)``
    (every position of ``...`` is one prediction). The sum is kept in float32 on ``device``.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sums live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> import math, torch
        >>> kl = KLDivergence()
        >>> y_pred = torch.tensor([[0.0, math.log(3.0)]])  # q = (1/4, 3/4)
        >>> kl.update((y_pred, torch.zeros(1, 2)))  # p = (1/2, 1/2)
        >>> round(kl.compute(), 6)  # (log 2 + log(2/3)) / 2 = log(4/3) / 2
        0.143841
    """

    _accumulators = _state_dict_all_req_keys = ("_sum_of_kl", "_num_examples")

    def reset(self) -> None:
        """Forget the predictions seen."""
        self._sum_of_kl = torch.tensor(0.0, device=self._device)
        self._num_examples = 0

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Add the divergences of one batch.

        Args:
            output: ``(y_pred, y)``, logits of the same shape.
        """
        y_pred, y = output[0].detach(), output[1].detach()
        if y_pred.shape != y.shape:
            raise ValueError(
                f"y_pred and y must be in the same shape, got {y_pred.shape} != {y.shape}."
            )
        y_pred, y = _class_rows(y_pred), _class_rows(y)
        self._sum_of_kl += self._divergences(y_pred, y).to(self._device)
        self._num_examples += y_pred.shape[0]

    def _divergences(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The sum over rows of KL(softmax(y) || softmax(y_pred)), from ``(N, C)`` logits."""
        return _kl_sum(F.log_softmax(y_pred, dim=1), F.log_softmax(y, dim=1))

    def compute(self) -> float:
        """The mean divergence per prediction, in nats."""
        _need_examples(self._num_examples, "KLDivergence")
        return self._sum_of_kl.item() / self._num_examples


def _kl_sum(log_q: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """``sum p (log p - log q)`` over all elements, from log-probabilities."""
    # kl_div's first argument is the distribution the divergence is measured *to*
    return F.kl_div(log_q, log_p, reduction="sum", log_target=True)
