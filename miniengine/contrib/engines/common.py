"""Ready-made setups of common handlers: Ignite's ``ignite.contrib.engines.common``.

Each function attaches handlers that exist on their own in ``miniengine.handlers`` and
``miniengine.metrics`` (``TerminateOnNan``, ``Checkpoint``, ``RunningAverage``,
``ProgressBar``, ``EarlyStopping``, ``TensorboardLogger``), with Ignite 0.5.5's arguments,
defaults, file names and tags, so a script that uses them runs unchanged. Read a function's
body to see what it attaches: each is a few ``add_event_handler`` or ``attach`` calls.

Example:
    >>> import os, tempfile, torch
    >>> from miniengine.engine import Engine
    >>> model = torch.nn.Linear(1, 1)
    >>> trainer = Engine(lambda engine, batch: {"loss": batch})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     setup_common_training_handlers(
    ...         trainer, to_save={"model": model}, save_every_iters=2, output_path=d,
    ...         output_names=["loss"], with_pbars=False)
    ...     state = trainer.run([4.0, 0.0, 8.0], max_epochs=1)
    ...     os.listdir(d), state.metrics["loss"]  # 4, then 0.98 * 4 + 0.02 * 0, then ...
    (['training_model_2.pt'], 4.0016)
"""

from __future__ import annotations

import gc
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler as TorchLRScheduler
from torch.utils.data.distributed import DistributedSampler

from miniengine import distributed as idist
from miniengine._missing import missing_name
from miniengine.engine import Engine, Events
from miniengine.handlers.base_logger import BaseLogger, global_step_from_engine
from miniengine.handlers.checkpoint import BaseSaveHandler, Checkpoint, DiskSaver
from miniengine.handlers.early_stopping import EarlyStopping
from miniengine.handlers.logger_utils import (
    _setup_logging,  # noqa: F401  (Ignite keeps this old name here too)
    setup_clearml_logging,
    setup_mlflow_logging,
    setup_neptune_logging,
    setup_plx_logging,
    setup_tb_logging,
    setup_trains_logging,
    setup_visdom_logging,
    setup_wandb_logging,
)
from miniengine.handlers.param_scheduler import ParamScheduler
from miniengine.handlers.terminate_on_nan import TerminateOnNan
from miniengine.handlers.tqdm_logger import ProgressBar
from miniengine.metrics import GpuInfo, RunningAverage, RunningBatchWise

__all__ = [
    "add_early_stopping_by_val_score",
    "empty_cuda_cache",
    "gen_save_best_models_by_val_score",
    "get_default_score_fn",
    "save_best_model_by_val_score",
    "setup_any_logging",
    "setup_common_distrib_training_handlers",
    "setup_common_training_handlers",
    "setup_clearml_logging",
    "setup_mlflow_logging",
    "setup_neptune_logging",
    "setup_plx_logging",
    "setup_tb_logging",
    "setup_trains_logging",
    "setup_visdom_logging",
    "setup_wandb_logging",
]

SaveHandler = Callable[..., Any] | BaseSaveHandler


def setup_common_training_handlers(
    trainer: Engine,
    train_sampler: DistributedSampler | None = None,
    to_save: Mapping[str, Any] | None = None,
    save_every_iters: int = 1000,
    output_path: str | None = None,
    lr_scheduler: ParamScheduler | TorchLRScheduler | None = None,
    with_gpu_stats: bool = False,
    output_names: Iterable[str] | None = None,
    with_pbars: bool = True,
    with_pbar_on_iters: bool = True,
    log_every_iters: int = 100,
    stop_on_nan: bool = True,
    clear_cuda_cache: bool = True,
    save_handler: SaveHandler | None = None,
    **kwargs: Any,
) -> None:
    """Attach the handlers most training scripts want, as Ignite's function of the same name.

    In this order, each when asked for:

    - ``TerminateOnNan()`` on ``ITERATION_COMPLETED`` (``stop_on_nan``);
    - the learning-rate schedule: a torch scheduler's ``step()`` on ``ITERATION_COMPLETED``,
      any other scheduler (a ``ParamScheduler``) as a handler on ``ITERATION_STARTED``;
    - ``empty_cuda_cache`` on ``EPOCH_COMPLETED`` when CUDA is available (``clear_cuda_cache``);
    - ``Checkpoint(to_save, save_handler, filename_prefix="training", **kwargs)`` on
      ``ITERATION_COMPLETED(every=save_every_iters)``; with ``output_path`` the save handler is
      ``DiskSaver(output_path, require_empty=False)``, so files read
      ``training_<name>_<iteration>.pt``;
    - a ``RunningAverage`` (batch-wise, alpha 0.98) of each of ``output_names``, read from the
      trainer's output by key (a mapping), by position (a sequence) or as is (a tensor or a
      number), written to ``state.metrics[name]``;
    - two progress bars (``with_pbars``): one per epoch over the iterations, advancing every
      ``log_every_iters`` and showing every metric (``with_pbar_on_iters``), and one over the
      epochs that stays on screen.

    In a distributed run (more than one process) ``train_sampler``, if given, must be a
    ``DistributedSampler``; its ``set_epoch(epoch - 1)`` is called on each ``EPOCH_STARTED``
    (the engine also does it for the sampler of the data it runs on). Progress bars show on
    rank 0 only. In a single process a ``DistributedSampler`` is ignored, with a warning.

    All arguments are checked before anything is attached (Ignite attaches the first handlers
    before it finds a bad argument).

    Args:
        trainer: the training engine.
        train_sampler: the distributed sampler of the training data.
        to_save: objects with ``state_dict`` to checkpoint, by name (see ``Checkpoint``).
        save_every_iters: iterations between checkpoints.
        output_path: directory of the checkpoints; exclusive with ``save_handler``.
        lr_scheduler: a ``ParamScheduler`` (``LRScheduler``, ``PiecewiseLinear``, ...) or a
            torch learning-rate scheduler.
        with_gpu_stats: attach ``GpuInfo`` (GPU memory and utilisation, every
            ``log_every_iters``); it needs ``pynvml`` and a GPU.
        output_names: names of the trainer's outputs to average.
        with_pbars: attach the progress bars.
        with_pbar_on_iters: also the bar over each epoch's iterations.
        log_every_iters: iterations between updates of that bar.
        stop_on_nan: terminate the run when an output is NaN or infinite.
        clear_cuda_cache: empty the CUDA cache after each epoch (when CUDA is available).
        save_handler: where ``Checkpoint`` writes (a ``BaseSaveHandler`` or a function);
            exclusive with ``output_path``.
        kwargs: more arguments of ``Checkpoint`` (``n_saved``, ``include_self``, ...).

    Example:
        >>> from miniengine.engine import Engine
        >>> trainer = Engine(lambda engine, batch: (batch, 2 * batch))
        >>> setup_common_training_handlers(trainer, output_names=["a", "b"], with_pbars=False)
        >>> trainer.run([1.0, 3.0]).metrics
        {'a': 1.04, 'b': 2.08}
    """
    distributed = idist.get_world_size() > 1
    if distributed and train_sampler is not None:
        if not isinstance(train_sampler, DistributedSampler):
            raise TypeError(
                "Train sampler should be torch DistributedSampler and have `set_epoch` method, "
                f"got {type(train_sampler).__name__}"
            )
    elif isinstance(train_sampler, DistributedSampler):
        warnings.warn(
            "Argument train_sampler is a distributed sampler, but either there is no "
            "distributed setting or world size is < 2. Train sampler argument will be ignored",
            UserWarning,
            stacklevel=2,
        )
    if output_path is not None and save_handler is not None:
        raise ValueError(
            "Arguments output_path and save_handler are mutually exclusive. Please, define only "
            f"one of them (got output_path={output_path!r} and save_handler={save_handler!r})"
        )
    if to_save is not None and output_path is None and save_handler is None:
        raise ValueError(
            "If to_save argument is provided then output_path or save_handler arguments should "
            "be also defined"
        )
    gpu_info = GpuInfo() if with_gpu_stats else None  # without pynvml or a GPU: an error now

    if stop_on_nan:
        trainer.add_event_handler(Events.ITERATION_COMPLETED, TerminateOnNan())
    if isinstance(lr_scheduler, TorchLRScheduler):
        torch_scheduler = lr_scheduler
        trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda _: torch_scheduler.step())
    elif lr_scheduler is not None:
        trainer.add_event_handler(Events.ITERATION_STARTED, lr_scheduler)
    if clear_cuda_cache and torch.cuda.is_available():
        trainer.add_event_handler(Events.EPOCH_COMPLETED, empty_cuda_cache)
    if to_save is not None:
        if output_path is not None:
            save_handler = DiskSaver(dirname=output_path, require_empty=False)
        assert save_handler is not None  # checked above
        checkpoint = Checkpoint(to_save, save_handler, filename_prefix="training", **kwargs)
        trainer.add_event_handler(Events.ITERATION_COMPLETED(every=save_every_iters), checkpoint)
    if gpu_info is not None:
        every = Events.ITERATION_COMPLETED(every=log_every_iters)
        gpu_info.attach(trainer, name="gpu", event_name=every)
    for index, name in enumerate(output_names or ()):
        average = RunningAverage(output_transform=partial(_output_value, index=index, name=name))
        average.attach(trainer, name, usage=RunningBatchWise())
    if with_pbars:
        if with_pbar_on_iters:
            ProgressBar(persist=False).attach(
                trainer,
                metric_names="all",
                event_name=Events.ITERATION_COMPLETED(every=log_every_iters),
            )
        ProgressBar(persist=True, bar_format="").attach(
            trainer, event_name=Events.EPOCH_STARTED, closing_event_name=Events.COMPLETED
        )
    if distributed and train_sampler is not None:
        sampler = train_sampler

        @trainer.on(Events.EPOCH_STARTED)
        def set_epoch(engine: Engine) -> None:
            sampler.set_epoch(engine.state.epoch - 1)


# Ignite keeps both names; the function itself tells the two cases apart.
setup_common_distrib_training_handlers = setup_common_training_handlers


def _output_value(output: Any, index: int, name: str) -> Any:
    """The value named ``name`` (or at ``index``) in the trainer's output."""
    if isinstance(output, Mapping):
        return output[name]
    if isinstance(output, Sequence):
        return output[index]
    if isinstance(output, (torch.Tensor, numbers.Number)):
        return output
    raise TypeError(
        "Unhandled type of update_function's output. It should either mapping or sequence, "
        f"but given {type(output)}"
    )


def empty_cuda_cache(_: Engine) -> None:
    """Release the CUDA memory PyTorch caches but no longer uses, then collect garbage.

    Args:
        _: the engine (unused), so that it can be attached as a handler.

    Example:
        >>> from miniengine.engine import Engine, Events
        >>> trainer = Engine(lambda engine, batch: None)
        >>> _ = trainer.add_event_handler(Events.EPOCH_COMPLETED, empty_cuda_cache)
        >>> trainer.run([0]).epoch
        1
    """
    torch.cuda.empty_cache()
    gc.collect()


def setup_any_logging(
    logger: BaseLogger,
    logger_module: Any,
    trainer: Engine,
    optimizers: Optimizer | dict[str | None, Optimizer] | None,
    evaluators: Engine | dict[str, Engine] | None,
    log_every_iters: int,
) -> None:
    """Removed in Ignite 0.4.0: raises ``DeprecationWarning``, as Ignite's does.

    Args:
        logger: unused.
        logger_module: unused.
        trainer: unused.
        optimizers: unused.
        evaluators: unused.
        log_every_iters: unused.

    Example:
        >>> setup_any_logging(None, None, None, None, None, 1)
        Traceback (most recent call last):
        ...
        DeprecationWarning: This function has been deprecated since version 0.4.0 ...
    """
    raise DeprecationWarning(
        "This function has been deprecated since version 0.4.0 and will be removed in version "
        "0.6.0. Use setup_tb_logging instead."
    )


get_default_score_fn = Checkpoint.get_default_score_fn


def gen_save_best_models_by_val_score(
    save_handler: SaveHandler,
    evaluator: Engine,
    models: torch.nn.Module | dict[str, torch.nn.Module],
    metric_name: str,
    n_saved: int = 3,
    trainer: Engine | None = None,
    tag: str = "val",
    score_sign: float = 1.0,
    **kwargs: Any,
) -> Checkpoint:
    """Keep the ``n_saved`` models with the best ``evaluator.state.metrics[metric_name]``.

    Attaches ``Checkpoint`` to the evaluator's ``COMPLETED`` with ``filename_prefix="best"``
    and ``score_name=f"{tag}_{metric_name.lower()}"``; with ``trainer``, the file name also has
    the trainer's epoch: ``best_model_<epoch>_val_acc=0.9000.pt``.

    Args:
        save_handler: where to write (a ``BaseSaveHandler`` such as ``DiskSaver``, or a
            function).
        evaluator: the engine whose metric scores the models.
        models: a model (saved as ``"model"``) or models by name.
        metric_name: the metric in ``evaluator.state.metrics``.
        n_saved: how many of the best to keep.
        trainer: the engine whose epoch goes into the file name.
        tag: prefix of the score's name.
        score_sign: 1.0 when higher is better, -1.0 when lower is (a loss).
        kwargs: more arguments of ``Checkpoint``.

    Returns:
        The ``Checkpoint`` handler.

    Example:
        >>> import tempfile, torch
        >>> from miniengine.engine import Engine
        >>> from miniengine.handlers import DiskSaver
        >>> scores = iter([0.5, 0.9, 0.7])
        >>> evaluator = Engine(lambda engine, batch: None)
        >>> @evaluator.on(Events.COMPLETED)
        ... def score(engine):
        ...     engine.state.metrics["acc"] = next(scores)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     best = gen_save_best_models_by_val_score(
        ...         DiskSaver(d), evaluator, torch.nn.Linear(1, 1), "acc", n_saved=1)
        ...     for _ in range(3):
        ...         _ = evaluator.run([0])
        ...     best.last_checkpoint.name
        'best_model_val_acc=0.9000.pt'
    """
    to_save = {"model": models} if isinstance(models, torch.nn.Module) else models
    checkpoint = Checkpoint(
        to_save,
        save_handler,
        filename_prefix="best",
        n_saved=n_saved,
        global_step_transform=None if trainer is None else global_step_from_engine(trainer),
        score_name=f"{tag}_{metric_name.lower()}",
        score_function=get_default_score_fn(metric_name, score_sign=score_sign),
        **kwargs,
    )
    evaluator.add_event_handler(Events.COMPLETED, checkpoint)
    return checkpoint


def save_best_model_by_val_score(
    output_path: str,
    evaluator: Engine,
    model: torch.nn.Module,
    metric_name: str,
    n_saved: int = 3,
    trainer: Engine | None = None,
    tag: str = "val",
    score_sign: float = 1.0,
    **kwargs: Any,
) -> Checkpoint:
    """``gen_save_best_models_by_val_score`` writing to ``output_path`` with a ``DiskSaver``.

    Args:
        output_path: the directory (created if missing, may hold other files).
        evaluator: the engine whose metric scores the model.
        model: the model to save.
        metric_name: the metric in ``evaluator.state.metrics``.
        n_saved: how many of the best to keep.
        trainer: the engine whose epoch goes into the file name.
        tag: prefix of the score's name.
        score_sign: 1.0 when higher is better, -1.0 when lower is (a loss).
        kwargs: more arguments of ``Checkpoint``.

    Returns:
        The ``Checkpoint`` handler.

    Example:
        >>> import os, tempfile, torch
        >>> from miniengine.engine import Engine
        >>> evaluator = Engine(lambda engine, batch: None)
        >>> evaluator.state.metrics["loss"] = 0.25
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = save_best_model_by_val_score(
        ...         d, evaluator, torch.nn.Linear(1, 1), "loss", score_sign=-1.0)
        ...     _ = evaluator.run([0])
        ...     os.listdir(d)
        ['best_model_val_loss=-0.2500.pt']
    """
    return gen_save_best_models_by_val_score(
        save_handler=DiskSaver(dirname=output_path, require_empty=False),
        evaluator=evaluator,
        models=model,
        metric_name=metric_name,
        n_saved=n_saved,
        trainer=trainer,
        tag=tag,
        score_sign=score_sign,
        **kwargs,
    )


def add_early_stopping_by_val_score(
    patience: int,
    evaluator: Engine,
    trainer: Engine,
    metric_name: str,
    score_sign: float = 1.0,
) -> EarlyStopping:
    """Stop ``trainer`` when ``evaluator.state.metrics[metric_name]`` stops improving.

    Attaches ``EarlyStopping`` to the evaluator's ``COMPLETED``.

    Args:
        patience: evaluations without improvement before stopping.
        evaluator: the engine whose metric is watched.
        trainer: the engine to terminate.
        metric_name: the metric in ``evaluator.state.metrics``.
        score_sign: 1.0 when higher is better, -1.0 when lower is (a loss).

    Returns:
        The ``EarlyStopping`` handler.

    Example:
        >>> from miniengine.engine import Engine, Events
        >>> losses = iter([0.5, 0.4, 0.45, 0.41, 0.3])
        >>> trainer = Engine(lambda engine, batch: None)
        >>> evaluator = Engine(lambda engine, batch: None)
        >>> @evaluator.on(Events.COMPLETED)
        ... def compute(engine):
        ...     engine.state.metrics["loss"] = next(losses)
        >>> _ = trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run([0]))
        >>> _ = add_early_stopping_by_val_score(2, evaluator, trainer, "loss", score_sign=-1.0)
        >>> trainer.run([0], max_epochs=10).epoch
        4
    """
    stopper = EarlyStopping(
        patience=patience,
        score_function=get_default_score_fn(metric_name, score_sign=score_sign),
        trainer=trainer,
    )
    evaluator.add_event_handler(Events.COMPLETED, stopper)
    return stopper


if not TYPE_CHECKING:  # hidden from type checkers, so that they still flag a missing name

    def __getattr__(name: str) -> Any:
        raise missing_name(__name__, name)
