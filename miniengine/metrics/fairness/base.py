"""``SubgroupMetric`` and ``SubgroupDifference``: a metric computed per group of examples."""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics.metric import Metric, MetricUsage, _identity

if TYPE_CHECKING:
    from miniengine.engine import Engine

__all__ = ["SubgroupDifference", "SubgroupMetric"]

# the key, next to the base class's, under which ``state_dict`` keeps each group's state
_GROUPS_KEY = "_metrics"


class _PerGroup(Metric):
    """Feeds each group's rows of ``(y_pred, y)`` to that group's own copy of ``base_metric``."""

    required_output_keys = ("y_pred", "y", "group_labels")

    def __init__(
        self,
        base_metric: Metric,
        groups: Sequence[Any],
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
    ) -> None:
        if not isinstance(base_metric, Metric):
            raise TypeError(f"Argument base_metric should be a Metric, got {type(base_metric)}")
        self._per_group: dict[Any, Metric] = {g: copy.deepcopy(base_metric) for g in groups}
        super().__init__(output_transform, device=device)

    def reset(self) -> None:
        """Forget the examples of every group."""
        for metric in self._per_group.values():
            metric.reset()

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Give each group's metric the rows whose label is that group (none: no update).

        Args:
            output: ``(y_pred, y, group_labels)``; ``group_labels`` of shape (batch,).
        """
        if len(output) != 3:
            raise ValueError(
                f"output should be in format `(y_pred, y, group_labels)`, got {len(output)} items"
            )
        y_pred, y, labels = (t.detach() for t in output)
        if not y_pred.shape[0] == y.shape[0] == labels.shape[0]:
            raise ValueError(
                "y_pred, y, and group_labels must have the same batch size. Got "
                f"{y_pred.shape[0]}, {y.shape[0]} and {labels.shape[0]}."
            )
        if labels.ndim != 1:
            raise ValueError(
                f"group_labels must be of shape (batch_size,), got {tuple(labels.shape)}."
            )
        for group, metric in self._per_group.items():
            rows = labels == group
            if rows.any():
                metric.update((y_pred[rows], y[rows]))

    def _values_per_group(self) -> dict[Any, Any]:
        """Each group's value; a group with nothing to compute on is left out."""
        values = {}
        for group, metric in self._per_group.items():
            try:
                values[group] = metric.compute()
            except NotComputableError:
                pass
        return values

    def _attach_updates(self, engine: Engine, usage: MetricUsage) -> None:
        super()._attach_updates(engine, usage)
        # the copies reduce over ranks in their own compute: they need the current world size
        for metric in self._per_group.values():
            metric._world_size = self._world_size

    def state_dict(self) -> OrderedDict[str, Any]:
        """Ignite's format: the base ``Metric.state_dict`` plus ``"_metrics"``, each group's
        ``state_dict`` under ``str(group)``.

        Example:
            >>> from miniengine.metrics import Accuracy
            >>> per_group = SubgroupMetric(Accuracy(), groups=[0, 1])
            >>> list(per_group.state_dict()["_metrics"])
            ['0', '1']
        """
        state = super().state_dict()
        state[_GROUPS_KEY] = {str(g): m.state_dict() for g, m in self._per_group.items()}
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` saved; a saved group that is not among ``groups`` is
        skipped (groups are matched by ``str(group)``).

        Args:
            state_dict: a dict made by ``state_dict``.

        Example:
            >>> from miniengine.metrics import Accuracy
            >>> saved = SubgroupMetric(Accuracy(), groups=[0, 1])
            >>> saved.update((torch.tensor([1, 0]), torch.tensor([1, 1]), torch.tensor([0, 1])))
            >>> restored = SubgroupMetric(Accuracy(), groups=[0, 1])
            >>> restored.load_state_dict(saved.state_dict())
            >>> restored.compute()
            {0: 1.0, 1: 0.0}
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"Argument state_dict should be a dictionary, but given {type(state_dict)}"
            )
        if _GROUPS_KEY not in state_dict:
            raise ValueError(
                f"Incorrect state_dict object: expected a key {_GROUPS_KEY!r} with the groups' "
                f"states, but given {list(state_dict)}"
            )
        own = {k: v for k, v in state_dict.items() if k != _GROUPS_KEY}
        super().load_state_dict(own)
        by_name = {str(g): m for g, m in self._per_group.items()}
        for name, saved in state_dict[_GROUPS_KEY].items():
            if name in by_name:
                by_name[name].load_state_dict(saved)


class SubgroupMetric(_PerGroup):
    """A metric computed separately on each group of examples: ``{group: value}``.

    Each batch is ``(y_pred, y, group_labels)`` (or a dict with these keys); the rows whose
    label equals a group go to that group's copy of ``base_metric``, as ``(y_pred, y)``. Rows
    whose label is not in ``groups`` are ignored, and a group without rows is left out of the
    result. Attached to an engine, the dict is written under the metric's name and, item by
    item, under each group.

    Args:
        base_metric: the metric to compute per group; it is copied once per group.
        groups: the group identifiers, compared with ``group_labels`` by ``==``.
        output_transform: maps the output to ``(y_pred, y, group_labels)``.
        device: accepted for Ignite's signature; each copy keeps ``base_metric``'s device.

    Example:
        >>> from miniengine.metrics import Accuracy
        >>> per_group = SubgroupMetric(Accuracy(), groups=[0, 1])
        >>> y_pred, y = torch.tensor([1, 0, 1, 1]), torch.tensor([1, 0, 0, 1])
        >>> per_group.update((y_pred, y, torch.tensor([0, 0, 1, 1])))
        >>> per_group.compute()
        {0: 1.0, 1: 0.5}
    """

    def compute(self) -> dict[Any, Any]:
        """Each group's value, for the groups that have examples."""
        return self._values_per_group()


class SubgroupDifference(_PerGroup):
    """The largest gap between two groups' values of a metric: ``max - min`` over groups.

    Groups are fed as in ``SubgroupMetric``. When the metric gives a tensor per group (one value
    per class, say), the gap is taken per entry and the largest is returned. At least two groups
    need examples.

    Args:
        base_metric: the metric to compute per group; it is copied once per group.
        groups: the group identifiers, compared with ``group_labels`` by ``==``.
        output_transform: maps the output to ``(y_pred, y, group_labels)``.
        device: accepted for Ignite's signature; each copy keeps ``base_metric``'s device.

    Example:
        >>> from miniengine.metrics import Accuracy
        >>> gap = SubgroupDifference(Accuracy(), groups=[0, 1])
        >>> y_pred, y = torch.tensor([1, 0, 1, 1]), torch.tensor([1, 0, 0, 1])
        >>> gap.update((y_pred, y, torch.tensor([0, 0, 1, 1])))
        >>> gap.compute()  # accuracy 1.0 in group 0, 0.5 in group 1
        0.5
    """

    def compute(self) -> float:
        """``max - min`` of the groups' values (the largest entry of it for tensor values)."""
        values = list(self._values_per_group().values())
        if not values:
            raise NotComputableError(
                "Fairness metrics must have at least one example before it can be computed."
            )
        if len(values) < 2:
            raise NotComputableError(
                "Fairness metrics require at least two unique subgroups to compute a disparity."
            )
        if all(isinstance(v, torch.Tensor) for v in values):
            per_group = torch.stack(values)
            gaps = per_group.amax(dim=0) - per_group.amin(dim=0)
            return float(gaps.max().item())
        return float(max(values) - min(values))
