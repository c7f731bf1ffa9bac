"""``CharacterErrorRate``: character edits needed to turn predictions into references."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics.metric import Metric, _identity

__all__ = ["CharacterErrorRate"]


def _edit_distance(ref: str, hyp: str) -> int:
    """Fewest single-character insertions, deletions and substitutions turning ref into hyp."""
    previous = list(range(len(hyp) + 1))  # from the empty prefix of ref: insert j characters
    for i, r in enumerate(ref, 1):
        row = [i]
        for j, h in enumerate(hyp, 1):
            row.append(min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = row
    return previous[-1]


class CharacterErrorRate(Metric):
    """``(substitutions + deletions + insertions) / characters in the references``, summed.

    The numerator is the Levenshtein distance of each pair, the denominator the length of the
    references; both are summed over all pairs before dividing, so a long reference weighs
    more. Every character counts, spaces and newlines included. When the references seen hold
    no character at all, the rate is 0.0 if the predictions are empty too, else 1.0.

    ``update`` takes ``(y_pred, y)``: two lists of strings of the same length (predictions and
    references), or two strings (one pair).

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: accepted as in Ignite; the counts are exact Python ints.
        skip_unrolling: see ``Metric``.

    Example:
        >>> cer = CharacterErrorRate()
        >>> y_pred = ["the cat sat on the mat", "hello world"]
        >>> y = ["the cat sat on mat", "hello world"]
        >>> cer.update((y_pred, y))
        >>> round(cer.compute(), 4)  # 4 characters ("the ") inserted; references: 18 + 11
        0.1379
    """

    _accumulators = _state_dict_all_req_keys = ("_num_errors", "_num_ref_chars", "_num_pairs")

    def __init__(
        self,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget the pairs seen."""
        self._num_errors = 0
        self._num_ref_chars = 0
        self._num_pairs = 0

    def update(self, output: Sequence[Any]) -> None:
        """Add the edit distances and reference lengths of a batch of pairs.

        Args:
            output: ``(y_pred, y)``, lists of strings or two strings.
        """
        y_pred, y = output[0], output[1]
        if not isinstance(y_pred, (str, list)) or not isinstance(y, (str, list)):
            raise TypeError(
                "y_pred and y must be str or list[str], "
                f"got y_pred: {type(y_pred)} and y: {type(y)}"
            )
        if isinstance(y_pred, str) != isinstance(y, str):
            # Ignite would compare the string's characters with the list's items
            raise TypeError(
                "y_pred and y must be str or list[str], both the same, "
                f"got y_pred: {type(y_pred)} and y: {type(y)}"
            )
        pairs = ([y_pred], [y]) if isinstance(y_pred, str) else (y_pred, y)
        if not all(isinstance(s, str) for s in (*pairs[0], *pairs[1])):
            raise TypeError("All elements of y_pred and y must be strings.")
        if len(pairs[0]) != len(pairs[1]):
            raise ValueError(
                "y_pred and y must have the same length. "
                f"Got y_pred of length {len(pairs[0])} and y of length {len(pairs[1])}."
            )
        for hyp, ref in zip(*pairs, strict=True):
            self._num_errors += _edit_distance(ref, hyp)
            self._num_ref_chars += len(ref)
        self._num_pairs += len(pairs[0])

    def compute(self) -> float:
        """The character error rate of all pairs seen since the last reset."""
        if self._num_pairs == 0:
            raise NotComputableError(
                "CharacterErrorRate must have at least one example before it can be computed."
            )
        if self._num_ref_chars == 0:
            return 0.0 if self._num_errors == 0 else 1.0
        return self._num_errors / self._num_ref_chars
