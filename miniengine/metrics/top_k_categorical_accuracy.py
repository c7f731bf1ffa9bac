"""``TopKCategoricalAccuracy``: how often the true class is among the ``k`` highest scores."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from miniengine.metrics.metric import Metric, _identity, _need_examples

__all__ = ["TopKCategoricalAccuracy"]


class TopKCategoricalAccuracy(Metric):
    """Fraction of examples whose true class is among the ``k`` classes with the highest scores.

    Args:
        k: how many of the best classes count, a positive int (at most the number of classes).
        output_transform: maps the output to ``(y_pred, y)``: scores of shape (N, C) and class
            indices of shape (N,).
        device: where the counts live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> top2 = TopKCategoricalAccuracy(k=2)
        >>> scores = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.3, 0.6]])
        >>> top2.update((scores, torch.tensor([1, 0])))  # 1 is 2nd best; 0 is the worst
        >>> top2.compute()
        0.5
    """

    _accumulators = _state_dict_all_req_keys = ("_num_correct", "_num_examples")

    def __init__(
        self,
        k: int = 5,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"Argument k should be a positive integer, got {k!r}")
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)
        self._k = k

    def reset(self) -> None:
        """Forget the predictions seen."""
        self._num_correct = torch.tensor(0, device=self._device)
        self._num_examples = 0

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Count one batch's examples with their class in the top ``k``.

        Args:
            output: ``(y_pred, y)``.
        """
        y_pred, y = output[0].detach(), output[1].detach()
        if y_pred.ndim < 2 or y_pred.shape[1] < self._k:
            raise ValueError(
                f"y_pred should have shape (batch_size, num_classes) with num_classes >= k = "
                f"{self._k}, got {tuple(y_pred.shape)}"
            )
        best = y_pred.topk(self._k, dim=1).indices
        correct = (best == y.reshape(-1, 1)).sum(dim=1)
        self._num_correct += correct.sum().to(self._device)
        self._num_examples += correct.shape[0]

    def compute(self) -> float:
        """Examples with their class in the top ``k`` / examples."""
        _need_examples(self._num_examples, "TopKCategoricalAccuracy")
        return self._num_correct.item() / self._num_examples
