"""``MutualInformation``: between the inputs and the predicted class, from softmax predictions."""

from __future__ import annotations

import torch

from miniengine.metrics.entropy import Entropy
from miniengine.metrics.metric import _need_examples

__all__ = ["MutualInformation"]


class MutualInformation(Entropy):
    """``I(X; Y) = H(mean_i p_i) - mean_i H(p_i)``, with ``p_i = softmax`` of the i-th logits.

    The entropy of the mean prediction minus the mean entropy of the predictions (``Entropy``):
    high when each prediction is confident and the classes are used evenly, as in clustering
    (Hu et al. 2017, https://proceedings.mlr.press/v70/hu17b.html). Clamped at 0, below which
    only rounding can take it. ``y_pred`` holds logits, ``(B, C)`` or ``(B, C, ...)``; ``y``
    is not used. A class whose mean probability is exactly 0 adds 0 (``0 log 0 = 0``).

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sums live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> import torch
        >>> mi = MutualInformation()
        >>> mi.update((torch.tensor([[20.0, -20.0], [-20.0, 20.0]]), None))  # sure, and split
        >>> round(mi.compute(), 6)  # log 2 - (almost) 0
        0.693147
    """

    # Ignite saves only the probabilities, so a resumed Ignite run loses the entropies.
    _accumulators = _state_dict_all_req_keys = (
        "_sum_of_probabilities",
        "_sum_of_entropies",
        "_num_examples",
    )

    def reset(self) -> None:
        """Forget the predictions seen."""
        super().reset()
        # 0-d until the first update tells the number of classes
        self._sum_of_probabilities = torch.tensor(0.0, device=self._device)

    def _add(self, prob: torch.Tensor, log_prob: torch.Tensor) -> None:
        seen = self._sum_of_probabilities
        if seen.ndim and seen.shape[0] != prob.shape[1]:
            raise ValueError(
                f"y_pred has {prob.shape[1]} classes, but the earlier updates had {seen.shape[0]}"
            )
        super()._add(prob, log_prob)
        self._sum_of_probabilities = seen + prob.sum(dim=0).to(self._device)

    def compute(self) -> float:
        """The mutual information, in nats."""
        _need_examples(self._num_examples, "MutualInformation")
        marginal = self._sum_of_probabilities / self._num_examples
        p_log_p = torch.where(marginal > 0, marginal * marginal.log(), 0.0)
        mi = -p_log_p.sum() - self._sum_of_entropies / self._num_examples
        return max(mi.item(), 0.0)
