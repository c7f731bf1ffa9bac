"""Handlers: logging, checkpoints, schedules, progress and run control.

Each handler lives in its own module and is imported only when first used, so that
``import miniengine`` stays cheap (TensorBoard alone costs ~0.3 s to import).

Example:
    >>> from miniengine.handlers import Timer
    >>> Timer().total
    0.0
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule that defines it
_WHERE = {
    "BaseLogger": "base_logger",
    "BaseHandler": "base_logger",
    "BaseOutputHandler": "base_logger",
    "BaseOptimizerParamsHandler": "base_logger",
    "BaseWeightsHandler": "base_logger",
    "BaseWeightsScalarHandler": "base_logger",
    "global_step_from_engine": "base_logger",
    "TensorboardLogger": "tensorboard_logger",
    "OutputHandler": "tensorboard_logger",
    "OptimizerParamsHandler": "tensorboard_logger",
    "WeightsScalarHandler": "tensorboard_logger",
    "WeightsHistHandler": "tensorboard_logger",
    "GradsScalarHandler": "tensorboard_logger",
    "GradsHistHandler": "tensorboard_logger",
    "Checkpoint": "checkpoint",
    "DiskSaver": "checkpoint",
    "ModelCheckpoint": "checkpoint",
    "RNGState": "checkpoint",
    "ParamScheduler": "param_scheduler",
    "LinearCyclicalScheduler": "param_scheduler",
    "CosineAnnealingScheduler": "param_scheduler",
    "ConcatScheduler": "param_scheduler",
    "PiecewiseLinear": "param_scheduler",
    "LRScheduler": "param_scheduler",
    "create_lr_scheduler_with_warmup": "param_scheduler",
    "CyclicalScheduler": "param_scheduler",
    "ParamGroupScheduler": "param_scheduler",
    "BaseParamScheduler": "param_scheduler",
    "BatchSizeScheduler": "param_scheduler",
    "ReduceLROnPlateauScheduler": "param_scheduler",
    "StateParamScheduler": "state_param_scheduler",
    "LambdaStateScheduler": "state_param_scheduler",
    "PiecewiseLinearStateScheduler": "state_param_scheduler",
    "ExpStateScheduler": "state_param_scheduler",
    "StepStateScheduler": "state_param_scheduler",
    "MultiStepStateScheduler": "state_param_scheduler",
    "ProgressBar": "tqdm_logger",
    "LogProgress": "log_progress",
    "EarlyStopping": "early_stopping",
    "Timer": "timing",
    "TerminateOnNan": "terminate_on_nan",
    "TimeLimit": "time_limit",
    "BasicTimeProfiler": "time_profilers",
    "HandlersTimeProfiler": "time_profilers",
    "FastaiLRFinder": "lr_finder",
    "EpochOutputStore": "stores",
    "EMAHandler": "ema_handler",
    "FBResearchLogger": "fbresearch_logger",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'miniengine.handlers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"miniengine.handlers.{_WHERE[name]}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__
