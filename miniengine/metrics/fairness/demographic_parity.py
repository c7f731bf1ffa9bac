"""``SelectionRate`` and ``DemographicParityDifference``: how often each outcome is predicted."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics.accuracy import _BaseClassification
from miniengine.metrics.fairness.base import SubgroupDifference
from miniengine.metrics.metric import _identity

__all__ = ["DemographicParityDifference", "SelectionRate"]


class SelectionRate(_BaseClassification):
    """The fraction of examples predicted as each class (each label, for multilabel data).

    Inputs are those of ``Accuracy``; ``y`` is checked but not used. Binary: ``y_pred`` holds
    0/1 predictions and the result is ``[rate of 0, rate of 1]``. Multiclass: the arg-max of
    ``y_pred`` over dim 1 is the prediction, one rate per class. Multilabel: the fraction of
    examples with each label set. The result is a float tensor.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        is_multilabel: treat ``(N, C, ...)`` 0/1 tensors as multilabel.
        device: where the counts live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> rate = SelectionRate()
        >>> rate.update((torch.tensor([1, 0, 1, 1]), torch.tensor([0, 0, 0, 0])))
        >>> rate.compute()
        tensor([0.2500, 0.7500])
    """

    _accumulators = _state_dict_all_req_keys = ("_num_positives", "_num_examples")

    def __init__(
        self,
        output_transform: Callable = _identity,
        is_multilabel: bool = False,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(output_transform, is_multilabel, device, skip_unrolling)

    def reset(self) -> None:
        """Forget the predictions seen."""
        # 0-d until the first batch tells how many classes there are
        self._num_positives = torch.tensor(0.0, device=self._device)
        self._num_examples = 0
        super().reset()

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Count how often each class (or label) is predicted in this batch.

        Args:
            output: ``(y_pred, y)``.
        """
        self._check_shape(output)
        self._check_type(output)
        y_pred = output[0].detach()
        if self._type == "multilabel":
            labels = y_pred.movedim(1, -1).reshape(-1, y_pred.shape[1])
            chosen, count = labels.sum(dim=0).float(), labels.shape[0]
        else:
            predicted = y_pred.argmax(dim=1) if self._type == "multiclass" else y_pred.long()
            # binary counts both outcomes, 0 and 1 (its _num_classes is 1)
            num_bins = max(self._num_classes or 2, 2)
            chosen = torch.bincount(predicted.reshape(-1), minlength=num_bins).float()
            count = predicted.numel()
        chosen = chosen.to(self._device)
        if self._num_positives.ndim == 0:
            self._num_positives = chosen
        else:
            self._num_positives = self._num_positives + chosen
        self._num_examples += count

    def compute(self) -> torch.Tensor:
        """Times each class (label) was predicted / examples."""
        if self._num_examples == 0 or self._num_positives.ndim == 0:
            raise NotComputableError(
                "SelectionRate must have at least one example before it can be computed."
            )
        return self._num_positives / self._num_examples


class DemographicParityDifference(SubgroupDifference):
    """The largest gap between two groups' selection rates, over classes (or labels).

    Each batch is ``(y_pred, y, group_labels)`` (or a dict with these keys); every group gets
    its own ``SelectionRate``, and the result is the largest ``max - min`` over groups of the
    rate of one class. 0 means every class is predicted equally often in every group
    (demographic parity, or statistical parity). ``y`` is checked but not used.

    Args:
        groups: the group identifiers, compared with ``group_labels`` by ``==``.
        is_multilabel: treat ``(N, C, ...)`` 0/1 tensors as multilabel.
        output_transform: maps the output to ``(y_pred, y, group_labels)``.
        device: where the counts live.

    Example:
        >>> parity = DemographicParityDifference(groups=[0, 1])
        >>> y_pred = torch.tensor([1, 1, 1, 0])  # group 0 always selected, group 1 half the time
        >>> parity.update((y_pred, torch.zeros(4), torch.tensor([0, 0, 1, 1])))
        >>> parity.compute()
        0.5
    """

    def __init__(
        self,
        groups: Sequence[Hashable],
        is_multilabel: bool = False,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
    ) -> None:
        rate = SelectionRate(is_multilabel=is_multilabel, device=device)
        super().__init__(rate, groups, output_transform, device)
