"""``Fbeta``: the weighted harmonic mean of precision and recall (F1 for ``beta=1``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from miniengine.metrics.metric import Metric, _identity
from miniengine.metrics.precision import Precision
from miniengine.metrics.recall import Recall

__all__ = ["Fbeta"]


def Fbeta(  # noqa: N802 - a function with a class's name, as in Ignite
    beta: float,
    average: bool = True,
    precision: Precision | None = None,
    recall: Recall | None = None,
    output_transform: Callable | None = None,
    device: str | torch.device | None = None,
) -> Metric:
    """F-beta score, ``(1 + beta^2) * P * R / (beta^2 * P + R)``, per class or averaged.

    Built on a ``Precision`` and a ``Recall`` with ``average=False``: made here, or given (then
    they keep their own ``output_transform`` and device, and may also be attached on their own).
    The result is a ``MetricsLambda`` of them, as in Ignite.

    Args:
        beta: weight of recall, > 0 (1 gives F1).
        average: True for the mean over classes (a float), False for one value per class.
        precision: a ``Precision(average=False)`` to reuse.
        recall: a ``Recall(average=False)`` to reuse.
        output_transform: for the precision and recall made here.
        device: for the precision and recall made here.

    Example:
        >>> f1 = Fbeta(beta=1.0)
        >>> f1.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]]), torch.tensor([0, 1, 0])))
        >>> round(f1.compute(), 4)  # both classes: P and R are 1 and 1/2, or 1/2 and 1
        0.6667
    """
    if not beta > 0:
        raise ValueError(f"Beta should be a positive integer, but given {beta}")
    for part, part_name in ((precision, "precision"), (recall, "recall")):
        if part is not None and output_transform is not None:
            raise ValueError(
                f"If {part_name} argument is provided, output_transform should be None"
            )
        if part is not None and device is not None:
            raise ValueError(f"If {part_name} argument is provided, device should be None")
    transform = output_transform or _identity
    if precision is None:
        where = recall._device if recall is not None else device or "cpu"
        precision = Precision(transform, average=False, device=where)
    elif precision._average:
        raise ValueError("Input precision metric should have average=False")
    if recall is None:
        recall = Recall(transform, average=False, device=precision._device)
    elif recall._average:
        raise ValueError("Input recall metric should have average=False")
    fbeta = (1.0 + beta**2) * precision * recall / (beta**2 * precision + recall + 1e-15)
    return fbeta.mean().item() if average else fbeta
