"""``ClassificationReport``: precision, recall and F-beta of every class, and their means."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch

from miniengine.metrics.fbeta import Fbeta
from miniengine.metrics.metric import _identity
from miniengine.metrics.metrics_lambda import MetricsLambda
from miniengine.metrics.precision import Precision
from miniengine.metrics.recall import Recall

__all__ = ["ClassificationReport"]


def ClassificationReport(  # noqa: N802 - a function with a class's name, as in Ignite
    beta: int = 1,
    output_dict: bool = False,
    output_transform: Callable = _identity,
    device: str | torch.device = "cpu",
    is_multilabel: bool = False,
    labels: list[str] | None = None,
    metrics_result_mode: Literal["flatten", "named", "both"] = "both",
) -> MetricsLambda:
    """A report like scikit-learn's ``classification_report``: one entry per class, a macro mean.

    The value is ``{label: {"precision": p, "recall": r, "f<beta>-score": f}, ...,
    "macro avg": {...}}`` with Python floats, as a dict (``output_dict=True``) or as that dict's
    JSON string. Labels are the class indices as strings (``"0"``, ``"1"``, ...) unless
    ``labels`` names them. It is a ``MetricsLambda`` over a ``Precision``, a ``Recall`` (both
    ``average=False``) and the ``Fbeta`` made from them, which take the inputs those take:
    scores ``(N, C, ...)`` and class ids ``(N, ...)``, or with ``is_multilabel`` 0/1 tensors
    ``(N, C, ...)``. A class never predicted has precision 0, one never present recall 0.

    Args:
        beta: weight of recall in the F-score (> 0); it also names the key, ``f"f{beta}-score"``.
        output_dict: True for a dict, False for a JSON string.
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the precision and recall counts live.
        is_multilabel: the inputs are multilabel 0/1 tensors.
        labels: the classes' names, in class order (at least one per class).
        metrics_result_mode: where a dict value goes in ``engine.state.metrics`` (see
            ``Metric``): its items at top level ("flatten"), the dict under the name
            ("named"), or both ("both").

    Example:
        >>> report = ClassificationReport(output_dict=True, labels=["cat", "dog"])
        >>> y_pred = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])  # predicts 0, 1, 1
        >>> report.update((y_pred, torch.tensor([0, 1, 0])))
        >>> value = report.compute()
        >>> list(value)
        ['cat', 'dog', 'macro avg']
        >>> {key: round(number, 4) for key, number in value["dog"].items()}
        {'precision': 0.5, 'recall': 1.0, 'f1-score': 0.6667}
    """
    if not isinstance(output_dict, bool):
        raise TypeError(f"Argument output_dict should be a bool, got {output_dict!r}")
    if labels is not None and (isinstance(labels, str) or not isinstance(labels, Sequence)):
        raise TypeError(f"Argument labels should be a list of class names or None, got {labels!r}")
    precision = Precision(
        output_transform, average=False, is_multilabel=is_multilabel, device=device
    )
    recall = Recall(output_transform, average=False, is_multilabel=is_multilabel, device=device)
    fbeta = Fbeta(beta, average=False, precision=precision, recall=recall)
    report = functools.partial(
        _report, beta=beta, labels=list(labels or []), output_dict=output_dict
    )
    # Ignite's argument order: a state_dict saved by either library loads into the other
    return MetricsLambda(
        report,
        recall,
        precision,
        fbeta,
        recall.mean(),
        precision.mean(),
        fbeta.mean(),
        metrics_result_mode=metrics_result_mode,
    )


def _report(
    recall: torch.Tensor,
    precision: torch.Tensor,
    fbeta: torch.Tensor,
    mean_recall: torch.Tensor,
    mean_precision: torch.Tensor,
    mean_fbeta: torch.Tensor,
    *,
    beta: float,
    labels: list[str],
    output_dict: bool,
) -> dict[str, dict[str, float]] | str:
    num_classes = len(precision)
    if labels and len(labels) < num_classes:
        raise ValueError(
            f"Argument labels names {len(labels)} classes, but the data has {num_classes}: "
            f"{labels!r}"
        )
    names = labels or [str(k) for k in range(num_classes)]
    f_key = f"f{beta}-score"

    def entry(p: Any, r: Any, f: Any) -> dict[str, float]:
        return {"precision": float(p), "recall": float(r), f_key: float(f)}

    result = {names[k]: entry(precision[k], recall[k], fbeta[k]) for k in range(num_classes)}
    result["macro avg"] = entry(mean_precision, mean_recall, mean_fbeta)
    return result if output_dict else json.dumps(result)
