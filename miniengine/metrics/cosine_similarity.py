"""``CosineSimilarity``: the mean cosine of the angle between each prediction and its target."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real

import torch
import torch.nn.functional as F

from miniengine.metrics.metric import Metric, _identity, _need_examples

__all__ = ["CosineSimilarity"]


def _check_same_shape(y_pred: torch.Tensor, y: torch.Tensor) -> None:
    # torch would broadcast (N, D) against (1, D) and the mean would divide by the wrong count
    if y_pred.shape != y.shape:
        raise ValueError(
            f"y_pred and y should have the same shape, got {tuple(y_pred.shape)} and "
            f"{tuple(y.shape)}"
        )
    if y.ndim < 2:
        raise ValueError(
            f"y_pred and y should have shape (batch_size, ...), got {tuple(y.shape)}: "
            "one example is a row"
        )


class CosineSimilarity(Metric):
    """Mean over examples of ``x / max(||x||, eps) . y / max(||y||, eps)`` (2-norms).

    ``y_pred`` and ``y`` have the same floating-point shape (N, ...); everything after the first
    dimension makes one vector per example. The cosines are those of
    ``torch.nn.functional.cosine_similarity``, which clamps each norm on its own (Ignite's
    docstring shows ``max(||x|| ||y||, eps)``, its numbers are these). The sum is kept in
    float32, as in Ignite.

    Args:
        eps: the smallest value a norm is divided by: a zero vector has similarity 0.
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> cos = CosineSimilarity()
        >>> y_pred = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
        >>> y = torch.tensor([[0.0, 2.0], [3.0, 3.0]])
        >>> cos.update((y_pred, y))
        >>> round(cos.compute(), 6)  # (0 + 1) / 2: orthogonal, then parallel
        0.5
    """

    _accumulators = _state_dict_all_req_keys = ("_sum_of_cos_similarities", "_num_examples")
    eps: float

    def __init__(
        self,
        eps: float = 1e-8,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if isinstance(eps, bool) or not isinstance(eps, Real):
            raise TypeError(f"Argument eps should be a number, got {eps!r}")
        self.eps = eps
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget the examples seen."""
        self._sum_of_cos_similarities = torch.tensor(0.0, device=self._device)
        self._num_examples = 0

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Add one batch's cosine similarities.

        Args:
            output: ``(y_pred, y)``.
        """
        y_pred, y = output[0].detach(), output[1].detach()
        _check_same_shape(y_pred, y)
        cosines = F.cosine_similarity(y_pred.flatten(1), y.flatten(1), dim=1, eps=self.eps)
        self._sum_of_cos_similarities += cosines.sum().to(self._device)
        self._num_examples += y.shape[0]

    def compute(self) -> float:
        """The mean cosine similarity per example."""
        _need_examples(self._num_examples, "CosineSimilarity")
        return self._sum_of_cos_similarities.item() / self._num_examples
