"""``JSDivergence``: the mean Jensen-Shannon divergence between two softmax distributions."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from miniengine.metrics.kl_divergence import KLDivergence, _kl_sum
from miniengine.metrics.metric import _need_examples

__all__ = ["JSDivergence"]


class JSDivergence(KLDivergence):
    """Mean over predictions of ``JS(p, q) = (KL(p || m) + KL(q || m)) / 2``, ``m = (p + q) / 2``.

    ``p = softmax(y)`` and ``q = softmax(y_pred)``, both given as logits of one shape, ``(B, C)``
    or ``(B, C, ...)``, as for ``KLDivergence``. Symmetric, and at most ``log 2``. The sum of
    both divergences is kept (as in Ignite); ``compute`` halves it.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sums live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> import torch
        >>> js = JSDivergence()
        >>> js.update((torch.tensor([[50.0, 0.0]]), torch.tensor([[0.0, 50.0]])))  # disjoint
        >>> round(js.compute(), 6)  # log 2
        0.693147
    """

    def _divergences(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        log_m = ((F.softmax(y_pred, dim=1) + F.softmax(y, dim=1)) / 2).log()
        log_q, log_p = F.log_softmax(y_pred, dim=1), F.log_softmax(y, dim=1)
        return _kl_sum(log_m, log_q) + _kl_sum(log_m, log_p)

    def compute(self) -> float:
        """The mean divergence per prediction, in nats."""
        _need_examples(self._num_examples, "JSDivergence")
        return self._sum_of_kl.item() / (self._num_examples * 2)
