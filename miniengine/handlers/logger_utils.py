"""Ready-made logging setups: Ignite's ``ignite.handlers.logger_utils``.

``setup_tb_logging`` attaches a ``TensorboardLogger`` to a trainer, its optimizers and its
evaluators with Ignite's tags. Ignite's other ``setup_*_logging`` functions are for experiment
trackers (Visdom, MLflow, Neptune, Weights & Biases, Polyaxon, ClearML) that miniengine does
not have: they exist so that a ported script imports, and calling one raises
``ModuleNotFoundError``, as Ignite's does where the tracker's package is not installed.
``miniengine.contrib.engines.common`` gives the same functions.

Example:
    >>> from miniengine.handlers.logger_utils import setup_visdom_logging
    >>> setup_visdom_logging(None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ModuleNotFoundError: setup_visdom_logging needs Ignite's VisdomLogger, ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from torch.optim import Optimizer

from miniengine._missing import COVERAGE_PAGE
from miniengine.engine import Engine, Events
from miniengine.handlers.base_logger import BaseLogger, global_step_from_engine

if TYPE_CHECKING:  # imported when used: TensorBoard alone takes ~0.3 s to import
    from miniengine.handlers.tensorboard_logger import TensorboardLogger

__all__ = [
    "setup_clearml_logging",
    "setup_mlflow_logging",
    "setup_neptune_logging",
    "setup_plx_logging",
    "setup_tb_logging",
    "setup_trains_logging",
    "setup_visdom_logging",
    "setup_wandb_logging",
]


def setup_tb_logging(
    output_path: str,
    trainer: Engine,
    optimizers: Optimizer | dict[str | None, Optimizer] | None = None,
    evaluators: Engine | dict[str, Engine] | None = None,
    log_every_iters: int | None = 100,
    *,
    trainer_metric_names: str | list[str] = "all",
    evaluator_metric_names: str | list[str] = "all",
    **kwargs: Any,
) -> TensorboardLogger:
    """Log training metrics, learning rates and evaluation metrics to TensorBoard.

    Writes, as Ignite does: the trainer's metrics as ``training/<name>`` every
    ``log_every_iters`` iterations; each optimizer's learning rates as ``[<key>/]lr/group_<i>``
    at the start of those iterations (no key for a single optimizer); each evaluator's metrics
    as ``<key>/<name>`` when it completes (key ``validation`` for a single evaluator), at the
    trainer's epoch as step.

    Args:
        output_path: the TensorBoard log directory.
        trainer: the training engine.
        optimizers: an optimizer, or optimizers by tag.
        evaluators: an evaluator, or evaluators by tag.
        log_every_iters: iterations between trainer logs; None or 1 logs every iteration.
        trainer_metric_names: the trainer's metrics to log, or ``"all"``.
        evaluator_metric_names: the evaluators' metrics to log, or ``"all"``.
        kwargs: more arguments of ``TensorboardLogger``.

    Returns:
        The ``TensorboardLogger``; close it (or use it as a context manager) when done.

    Example:
        >>> import tempfile
        >>> from miniengine.engine import Engine
        >>> from miniengine.metrics import RunningAverage
        >>> trainer = Engine(lambda engine, batch: batch)
        >>> RunningAverage(output_transform=lambda x: x).attach(trainer, "loss")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     with setup_tb_logging(d, trainer, log_every_iters=2) as tb:
        ...         _ = trainer.run([1.0, 2.0, 3.0, 4.0])
    """
    from miniengine.handlers.tensorboard_logger import TensorboardLogger

    _check_logging_args(optimizers, evaluators)  # before a log directory is made
    logger = TensorboardLogger(log_dir=output_path, **kwargs)
    _setup_logging(
        logger,
        trainer,
        optimizers,
        evaluators,
        log_every_iters,
        trainer_metric_names=trainer_metric_names,
        evaluator_metric_names=evaluator_metric_names,
    )
    return logger


def _check_logging_args(optimizers: Any, evaluators: Any) -> None:
    if optimizers is not None and not isinstance(optimizers, (Optimizer, Mapping)):
        raise TypeError(
            "Argument optimizers should be either a single optimizer or a dictionary or "
            f"optimizers, got {type(optimizers).__name__}"
        )
    if evaluators is not None and not isinstance(evaluators, (Engine, Mapping)):
        raise TypeError(
            "Argument evaluators should be either a single engine or a dictionary or engines, "
            f"got {type(evaluators).__name__}"
        )


def _setup_logging(
    logger: BaseLogger,
    trainer: Engine,
    optimizers: Optimizer | Mapping[str | None, Optimizer] | None,
    evaluators: Engine | Mapping[str, Engine] | None,
    log_every_iters: int | None,
    *,
    trainer_metric_names: str | list[str] = "all",
    evaluator_metric_names: str | list[str] = "all",
) -> None:
    _check_logging_args(optimizers, evaluators)
    every = log_every_iters or 1
    logger.attach_output_handler(
        trainer,
        event_name=Events.ITERATION_COMPLETED(every=every),
        tag="training",
        metric_names=trainer_metric_names,
    )
    if isinstance(optimizers, Optimizer):
        optimizers = {None: optimizers}
    for key, optimizer in (optimizers or {}).items():
        logger.attach_opt_params_handler(
            trainer, Events.ITERATION_STARTED(every=every), optimizer, param_name="lr", tag=key
        )
    if isinstance(evaluators, Engine):
        evaluators = {"validation": evaluators}
    step = global_step_from_engine(trainer)
    for key, evaluator in (evaluators or {}).items():
        logger.attach_output_handler(
            evaluator,
            event_name=Events.COMPLETED,
            tag=key,
            metric_names=evaluator_metric_names,
            global_step_transform=step,
        )


def _tracker_setup(name: str, logger: str) -> Callable[..., BaseLogger]:
    def setup(
        trainer: Engine,
        optimizers: Optimizer | dict[str | None, Optimizer] | None = None,
        evaluators: Engine | dict[str, Engine] | None = None,
        log_every_iters: int = 100,
        **kwargs: Any,
    ) -> BaseLogger:
        raise ModuleNotFoundError(
            f"{name} needs Ignite's {logger}, for a third-party experiment tracker: miniengine "
            f"does not have it (see {COVERAGE_PAGE}); log to TensorBoard with setup_tb_logging"
        )

    setup.__name__ = setup.__qualname__ = name
    setup.__doc__ = f"""Ignite's setup of its {logger}, which miniengine does not have: raises
    ``ModuleNotFoundError``, as Ignite's does without the tracker's package.

    Args:
        trainer: the training engine.
        optimizers: an optimizer, or optimizers by tag.
        evaluators: an evaluator, or evaluators by tag.
        log_every_iters: iterations between trainer logs.
        kwargs: the logger's arguments.

    Example:
        >>> {name}(None)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ModuleNotFoundError: {name} needs Ignite's {logger}, ...
    """
    return setup


setup_visdom_logging = _tracker_setup("setup_visdom_logging", "VisdomLogger")
setup_mlflow_logging = _tracker_setup("setup_mlflow_logging", "MLflowLogger")
setup_neptune_logging = _tracker_setup("setup_neptune_logging", "NeptuneLogger")
setup_wandb_logging = _tracker_setup("setup_wandb_logging", "WandBLogger")
setup_plx_logging = _tracker_setup("setup_plx_logging", "PolyaxonLogger")
setup_clearml_logging = _tracker_setup("setup_clearml_logging", "ClearMLLogger")
setup_trains_logging = _tracker_setup("setup_trains_logging", "ClearMLLogger")
