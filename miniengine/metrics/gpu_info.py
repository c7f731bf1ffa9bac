"""``GpuInfo``: each GPU's memory use and utilisation, in percent, written every iteration.

Ignite's metric of the same name, on the same source: ``pynvml``'s ``nvidia_smi`` (a package
of version < 12, not installed with miniengine). Without it, or without a GPU, making one is a
clear error; Ignite's examples catch the ``RuntimeError``.

Example:
    >>> import torch
    >>> from miniengine.metrics import GpuInfo
    >>> try:
    ...     GpuInfo()
    ... except (ModuleNotFoundError, RuntimeError) as error:
    ...     print(type(error).__name__)
    ModuleNotFoundError
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import torch

from miniengine.engine.events import Events
from miniengine.metrics.metric import Metric

if TYPE_CHECKING:
    from miniengine.engine import Engine

__all__ = ["GpuInfo"]


class GpuInfo(Metric):
    """Writes ``"<name>:<i> mem(%)"`` and ``"<name>:<i> util(%)"`` for each GPU ``i``.

    A value a GPU does not report ("N/A" utilisation, say) is left out, with a warning where
    the report lacks it altogether, as in Ignite.

    Example:
        >>> GpuInfo.attach.__defaults__  # with a GPU: GpuInfo().attach(trainer)
        ('gpu', Events.ITERATION_COMPLETED)
    """

    def __init__(self) -> None:
        try:
            from pynvml.smi import nvidia_smi  # type: ignore[import-not-found]
        except ImportError:
            raise ModuleNotFoundError(
                "This contrib module requires pynvml to be installed. Please install it with "
                "command: \n pip install 'pynvml<12'"
            ) from None
        if not torch.cuda.is_available():
            raise RuntimeError("This contrib module requires available GPU")
        self.nvsmi = nvidia_smi.getInstance()
        super().__init__()

    def reset(self) -> None:
        pass

    def update(self, output: Any) -> None:
        pass

    def compute(self) -> list[dict[str, Any]]:
        """The per-GPU reports of ``nvidia_smi`` (memory used/total, utilisation)."""
        data = self.nvsmi.DeviceQuery("memory.used, memory.total, utilization.gpu")
        if not data or "gpu" not in data:
            warnings.warn("No GPU information available", stacklevel=2)
            return []
        return data["gpu"]

    def completed(self, engine: Engine, name: str) -> None:
        """Write the percentages of every GPU to ``engine.state.metrics``."""
        reports = self.compute()
        for i, report in enumerate(reports):
            memory = report.get("fb_memory_usage")
            if memory is None or not {"used", "total"} <= set(memory):
                warnings.warn(
                    f"No GPU memory usage information available in {report}", stacklevel=2
                )
            else:
                engine.state.metrics[f"{name}:{i} mem(%)"] = int(
                    memory["used"] * 100.0 / memory["total"]
                )
        for i, report in enumerate(reports):
            utilisation = report.get("utilization", {})
            if "gpu_util" not in utilisation:
                warnings.warn(f"No GPU utilization information available in {report}", stacklevel=2)
                continue
            try:
                engine.state.metrics[f"{name}:{i} util(%)"] = int(utilisation["gpu_util"])
            except ValueError:  # "N/A"
                pass

    def attach(  # type: ignore[override]
        self,
        engine: Engine,
        name: str = "gpu",
        event_name: Any = Events.ITERATION_COMPLETED,
    ) -> None:
        """Write the values at every ``event_name`` (every iteration by default).

        Args:
            engine: the engine.
            name: the prefix of the metric names.
            event_name: when to write them.
        """
        engine.add_event_handler(event_name, self.completed, name)
