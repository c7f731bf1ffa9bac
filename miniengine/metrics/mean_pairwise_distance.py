"""``MeanPairwiseDistance``: the mean p-norm distance between each prediction and its target."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real

import torch
import torch.nn.functional as F

from miniengine.metrics.cosine_similarity import _check_same_shape
from miniengine.metrics.metric import Metric, _identity, _need_examples

__all__ = ["MeanPairwiseDistance"]


class MeanPairwiseDistance(Metric):
    """Sum of ``||y_pred - y + eps||_p`` over the last dimension, divided by the number of examples.

    ``y_pred`` and ``y`` have the same shape (N, ..., D); the distances are those of
    ``torch.nn.functional.pairwise_distance``, one per vector along the last dimension, so an
    example of shape (C, D) adds C distances (as in Ignite). The sum is kept in float32.

    Args:
        p: the degree of the norm (any real number torch accepts, ``float("inf")`` included).
        eps: added to each difference, so that the norm's gradient is defined at zero.
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric`` (Ignite 0.5.5 accepts it and ignores it).

    Example:
        >>> mpd = MeanPairwiseDistance(eps=0.0)
        >>> y_pred = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
        >>> mpd.update((y_pred, torch.zeros(2, 2)))
        >>> round(mpd.compute(), 4)  # (5 + sqrt(2)) / 2
        3.2071
    """

    _accumulators = _state_dict_all_req_keys = ("_sum_of_distances", "_num_examples")

    def __init__(
        self,
        p: int = 2,
        eps: float = 1e-6,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        for name, value in (("p", p), ("eps", eps)):
            if isinstance(value, bool) or not isinstance(value, Real):
                raise TypeError(f"Argument {name} should be a number, got {value!r}")
        self._p = p
        self._eps = eps
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget the examples seen."""
        self._sum_of_distances = torch.tensor(0.0, device=self._device)
        self._num_examples = 0

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Add one batch's distances.

        Args:
            output: ``(y_pred, y)``.
        """
        y_pred, y = output[0].detach(), output[1].detach()
        _check_same_shape(y_pred, y)
        distances = F.pairwise_distance(y_pred, y, p=self._p, eps=self._eps)
        self._sum_of_distances += distances.sum().to(self._device)
        self._num_examples += y.shape[0]

    def compute(self) -> float:
        """The sum of distances per example."""
        _need_examples(self._num_examples, "MeanPairwiseDistance")
        return self._sum_of_distances.item() / self._num_examples
