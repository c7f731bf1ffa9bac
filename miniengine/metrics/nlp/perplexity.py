"""``Perplexity``: ``exp`` of a language model's mean cross-entropy per token."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from miniengine.exceptions import NotComputableError
from miniengine.metrics.metric import Metric, _identity

__all__ = ["Perplexity"]


class Perplexity(Metric):
    """``exp(sum of the tokens' negative log-likelihoods / number of tokens)``, over all batches.

    ``y_pred`` holds logits (unnormalised log-probabilities) with the vocabulary on dim 1:
    ``(batch_size, vocab_size, seq_len)``, or ``(batch_size, vocab_size)`` for one token per
    row; ``y`` holds the target token ids, ``(batch_size, seq_len)`` or ``(batch_size,)``.
    Every token weighs the same, so a long sequence counts more than a short one (a mean of
    per-batch perplexities would favour short batches). Targets equal to ``ignore_index``
    (padding) count neither in the sum nor in the number of tokens. The sum is kept in float64.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum and the token count live.
        ignore_index: a target id to leave out, as in ``torch.nn.functional.cross_entropy``.

    Example:
        >>> ppl = Perplexity()
        >>> y_pred = torch.zeros(2, 4, 3)  # equal logits: every token has probability 1/4
        >>> ppl.update((y_pred, torch.tensor([[0, 1, 2], [3, 0, -100]])))  # -100: padding
        >>> round(ppl.compute(), 6)
        4.0
    """

    _accumulators = _state_dict_all_req_keys = ("_sum_of_nll", "_num_tokens")

    def __init__(
        self,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        ignore_index: int = -100,
    ) -> None:
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
            raise TypeError(f"Argument ignore_index should be an int, got {ignore_index!r}")
        self._ignore_index = ignore_index
        super().__init__(output_transform, device=device)

    def reset(self) -> None:
        """Forget the tokens seen."""
        self._sum_of_nll = torch.tensor(0.0, dtype=self._double_dtype, device=self._device)
        # a tensor, not an int: counting on the GPU needs no sync per batch
        self._num_tokens = torch.tensor(0, dtype=torch.long, device=self._device)

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Add the batch's summed negative log-likelihood and its number of tokens.

        Args:
            output: ``(y_pred, y)``, logits and target ids.
        """
        y_pred, y = output[0].detach(), output[1].detach()
        _check_shapes(y_pred, y)
        if y.is_floating_point() or y.is_complex():
            raise TypeError(f"y must hold integer token ids, got dtype {y.dtype}")
        nll = F.cross_entropy(y_pred, y.long(), reduction="sum", ignore_index=self._ignore_index)
        self._sum_of_nll += nll.to(self._device, self._double_dtype)
        self._num_tokens += (y != self._ignore_index).sum().to(self._device)

    def compute(self) -> float:
        """The perplexity of all tokens seen since the last reset."""
        if self._num_tokens == 0:
            raise NotComputableError(
                "Perplexity must have at least one example before it can be computed."
            )
        return torch.exp(self._sum_of_nll / self._num_tokens).item()


def _check_shapes(y_pred: torch.Tensor, y: torch.Tensor) -> None:
    if y_pred.ndim < 2:
        raise ValueError(f"y_pred must be at least 2-dimensional (got shape: {y_pred.shape})")
    if y.ndim < 1:
        raise ValueError(f"y must be at least 1-dimensional (got shape: {y.shape})")
    if y_pred.ndim != y.ndim + 1:
        raise ValueError(
            "y_pred must have exactly one more dimension than y "
            f"(got y_pred={y_pred.ndim}D and y={y.ndim}D)."
        )
    # the vocabulary dimension (1) of y_pred is the one y lacks
    if y_pred.shape[:1] + y_pred.shape[2:] != y.shape:
        raise ValueError(
            f"y_pred and y have incompatible shapes: y_pred={y_pred.shape}, y={y.shape} "
            "(expected y_pred[0] == y[0] and y_pred[2:] == y[1:])."
        )
