"""``Entropy``: the mean entropy of the softmax of the predicted logits."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from miniengine.metrics.metric import Metric, _need_examples

__all__ = ["Entropy"]


def _class_rows(y_pred: torch.Tensor) -> torch.Tensor:
    """``(B, C)`` as it is, ``(B, C, d1, ...)`` as ``(B * d1 * ..., C)``: one row per prediction."""
    if y_pred.ndim < 2:
        raise ValueError(
            f"y_pred must be in the shape of (B, C) or (B, C, ...), got {y_pred.shape}."
        )
    return y_pred.movedim(1, -1).reshape(-1, y_pred.shape[1])


class Entropy(Metric):
    """Mean over predictions of ``H(p) = -sum_c p_c log p_c``, with ``p = softmax(y_pred)``.

    ``y_pred`` holds unnormalised logits, ``(B, C)`` or ``(B, C, ...)`` (e.g. segmentation,
    where every pixel counts as one prediction); ``y`` is not used and may be ``None``. The
    sum is kept in float32 on ``device``, as in Ignite.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sums live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> import torch
        >>> entropy = Entropy()
        >>> entropy.update((torch.zeros(2, 4), None))  # uniform over 4 classes
        >>> round(entropy.compute(), 6)  # log 4
        1.386294
    """

    # annotated: MutualInformation adds a third sum
    _accumulators: tuple[str, ...] = ("_sum_of_entropies", "_num_examples")
    _state_dict_all_req_keys: tuple[str, ...] = _accumulators

    def reset(self) -> None:
        """Forget the predictions seen."""
        self._sum_of_entropies = torch.tensor(0.0, device=self._device)
        self._num_examples = 0

    def update(self, output: Sequence[torch.Tensor | None]) -> None:
        """Add the entropies of one batch's predictions.

        Args:
            output: ``(y_pred, y)``; only ``y_pred`` is read.
        """
        y_pred = output[0]
        if not isinstance(y_pred, torch.Tensor):
            raise TypeError(f"y_pred should be a tensor of logits, got {type(y_pred)}")
        logits = _class_rows(y_pred.detach())
        # log_softmax, not log(softmax): finite where a probability underflows to 0
        self._add(F.softmax(logits, dim=1), F.log_softmax(logits, dim=1))

    def _add(self, prob: torch.Tensor, log_prob: torch.Tensor) -> None:
        self._sum_of_entropies -= (prob * log_prob).sum().to(self._device)
        self._num_examples += prob.shape[0]

    def compute(self) -> float:
        """The mean entropy per prediction."""
        _need_examples(self._num_examples, "Entropy")
        return self._sum_of_entropies.item() / self._num_examples
