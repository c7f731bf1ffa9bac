"""TensorBoard logging: a logger over torch's ``SummaryWriter`` and the handlers that feed it.

Names, tags and steps are those of PyTorch-Ignite 0.5.5, so its dashboards look the same:

- ``OutputHandler(tag, ...)``: ``tag/<metric>``, ``tag/<output key>`` (``tag/output`` when the
  transformed output is not a dict); nested dicts and sequences become ``tag/key/0``, ...
- ``OptimizerParamsHandler``: ``[tag/]lr/group_<i>``.
- ``WeightsScalarHandler`` / ``GradsScalarHandler``: ``[tag/]weights_norm/fc/weight``, ...
- ``WeightsHistHandler`` / ``GradsHistHandler``: histograms ``[tag/]weights/fc/weight``, ...

The step is the counter of the event being handled (iteration or epoch). Whenever a run of an
attached engine ends, even by an exception or Ctrl-C, the writer is flushed, so everything logged
so far is on disk.

In a distributed run (``miniengine.distributed``) only rank 0 writes, by default: on the other
processes the logger makes no files and attaches nothing (Ignite's writes on every rank).
"""

from __future__ import annotations

from typing import Any

from miniengine import distributed as idist
from miniengine.engine import Engine
from miniengine.handlers.base_logger import (
    BaseLogger,
    BaseOptimizerParamsHandler,
    BaseOutputHandler,
    BaseWeightsHandler,
    BaseWeightsScalarHandler,
    _event_count,
    _global_step,
    global_step_from_engine,
)

__all__ = [
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "TensorboardLogger",
    "WeightsHistHandler",
    "WeightsScalarHandler",
    "global_step_from_engine",
]


class TensorboardLogger(BaseLogger):
    """Log to TensorBoard through ``torch.utils.tensorboard.SummaryWriter``.

    Other attributes (``add_text``, ``log_dir``, ...) are looked up on ``writer``.

    Args:
        args: passed to ``SummaryWriter``.
        rank: in a distributed run, the process that logs; None for every process (then give
            each its own ``log_dir``). Elsewhere ``writer`` stands in: its methods do nothing.
        kwargs: passed to ``SummaryWriter``, e.g. ``log_dir``.

    Example:
        >>> import tempfile
        >>> from miniengine.engine import Engine, Events
        >>> trainer = Engine(lambda engine, batch: batch / 2)
        >>> with tempfile.TemporaryDirectory() as d, TensorboardLogger(log_dir=d) as tb:
        ...     _ = tb.attach_output_handler(
        ...         trainer, Events.ITERATION_COMPLETED, tag="train",
        ...         output_transform=lambda out: {"loss": out})
        ...     _ = trainer.run([4.0, 2.0])
        ...     print(tb.log_dir == d)
        True
    """

    def __init__(self, *args: Any, rank: int | None = 0, **kwargs: Any) -> None:
        self.rank = rank
        if rank is not None and idist.get_rank() != rank:
            self._active = False
            self.writer: Any = _NullWriter()
            return
        # imported here, not at module level: TensorBoard takes ~0.3 s to import
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ModuleNotFoundError(
                "This contrib module requires either tensorboardX or torch >= 1.2.0; "
                "miniengine uses torch.utils.tensorboard, which needs the tensorboard package: "
                "`pip install tensorboard`"
            ) from None

        self.writer = SummaryWriter(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # only reached for names not found on the logger itself
        writer = self.__dict__.get("writer")
        if writer is None:  # __init__ failed, or the object is being unpickled
            raise AttributeError(f"'TensorboardLogger' object has no attribute '{name}'")
        return getattr(writer, name)

    def close(self) -> None:
        """Flush and close the writer; calling it again does nothing."""
        super().close()
        self.writer.close()

    def _run_ended(self) -> None:
        self.writer.flush()

    def _create_output_handler(self, *args: Any, **kwargs: Any) -> OutputHandler:
        return OutputHandler(*args, **kwargs)

    def _create_opt_params_handler(self, *args: Any, **kwargs: Any) -> OptimizerParamsHandler:
        return OptimizerParamsHandler(*args, **kwargs)


def _do_nothing(*args: Any, **kwargs: Any) -> None:
    return None


class _NullWriter:
    """The writer of a process that does not log: every method does nothing."""

    def __getattr__(self, name: str) -> Any:
        return _do_nothing


def _check_logger(logger: Any, handler_name: str) -> None:
    # `type(...) is` first: isinstance on an ABC subclass is slow, and this runs every event
    if type(logger) is not TensorboardLogger and not isinstance(logger, TensorboardLogger):
        raise RuntimeError(f"Handler {handler_name} works only with TensorboardLogger")


class OutputHandler(BaseOutputHandler):
    """Log metrics, the transformed output and state attributes as scalars ``tag/<name>``.

    Args:
        tag: prefix of every name, e.g. ``"training"``.
        metric_names: names in ``engine.state.metrics`` to log, or ``"all"``.
        output_transform: maps ``engine.state.output`` to a number, 0-d/1-d tensor, or a
            (nested) dict/list of those; a non-dict result is logged as ``tag/output``.
        global_step_transform: ``(engine, event_name) -> int`` giving the step; default: the
            event's counter. See :func:`global_step_from_engine`.
        state_attributes: names of ``engine.state`` attributes to log.

    Example:
        >>> import tempfile
        >>> from miniengine.engine import Engine, Events
        >>> evaluator = Engine(lambda engine, batch: None)
        >>> @evaluator.on(Events.COMPLETED)
        ... def compute(engine):
        ...     engine.state.metrics["acc"] = 0.75
        >>> with tempfile.TemporaryDirectory() as d, TensorboardLogger(log_dir=d) as tb:
        ...     handler = OutputHandler("val", metric_names=["acc"])
        ...     _ = tb.attach(evaluator, handler, Events.COMPLETED)
        ...     _ = evaluator.run([0])
    """

    def __call__(self, engine: Engine, logger: TensorboardLogger, event_name: Any) -> None:
        _check_logger(logger, "'OutputHandler'")
        scalars = self._setup_output_metrics_state_attrs(engine, key_tuple=False)
        step = self.global_step_transform(engine, event_name)
        if type(step) is not int:
            step = _global_step(step)
        add_scalar = logger.writer.add_scalar
        for name, value in scalars.items():
            add_scalar(name, value, step)


class OptimizerParamsHandler(BaseOptimizerParamsHandler):
    """Log ``param_name`` (e.g. the learning rate) of each group as ``[tag/]lr/group_<i>``.

    Args:
        optimizer: a torch optimizer, or any object whose ``param_groups`` is a list/tuple.
        param_name: the key to read in each group.
        tag: optional prefix, e.g. ``"generator"``.

    Example:
        >>> import tempfile, torch
        >>> from miniengine.engine import Engine, Events
        >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> trainer = Engine(lambda engine, batch: None)
        >>> with tempfile.TemporaryDirectory() as d, TensorboardLogger(log_dir=d) as tb:
        ...     _ = tb.attach_opt_params_handler(
        ...         trainer, Events.ITERATION_STARTED, optimizer=optimizer)
        ...     _ = trainer.run([0, 0])
    """

    def __call__(self, engine: Engine, logger: TensorboardLogger, event_name: Any) -> None:
        _check_logger(logger, "OptimizerParamsHandler")
        step = _event_count(engine, event_name)
        prefix = f"{self.tag}/" if self.tag else ""
        name = self.param_name
        # read every group before writing any, so a missing key writes nothing
        values = [float(group[name]) for group in self.optimizer.param_groups]
        for i, value in enumerate(values):
            logger.writer.add_scalar(f"{prefix}{name}/group_{i}", value, step)


def _log_params(handler: Any, engine: Engine, logger: Any, event_name: Any, grads: bool) -> None:
    """Write each whitelisted parameter (or its gradient, when it has one) of the model."""
    _check_logger(logger, f"'{type(handler).__name__}'")
    step = _event_count(engine, event_name)
    prefix = f"{handler.tag}/" if handler.tag else ""
    scalar = isinstance(handler, BaseWeightsScalarHandler)
    kind = "grads" if grads else "weights"
    if scalar:
        kind += "_" + getattr(handler.reduction, "__name__", type(handler.reduction).__name__)
    writer = logger.writer
    for name, param in handler.weights:
        tensor = param.grad if grads else param.data
        if tensor is None:  # no backward pass has reached this parameter yet
            continue
        tag = f"{prefix}{kind}/{name.replace('.', '/')}"
        if scalar:
            writer.add_scalar(tag, handler.reduction(tensor), step)
        else:
            writer.add_histogram(tag=tag, values=tensor.cpu().numpy(), global_step=step)


class _LogsParams:
    """The ``__call__`` of the four weights/grads handlers; ``_grads`` picks what they log."""

    _grads = False

    def __call__(self, engine: Engine, logger: TensorboardLogger, event_name: Any) -> None:
        _log_params(self, engine, logger, event_name, grads=self._grads)


class WeightsScalarHandler(_LogsParams, BaseWeightsScalarHandler):
    """Log ``reduction(parameter)`` of each parameter as ``[tag/]weights_<reduction>/<name>``.

    Dots in parameter names become slashes: ``fc.weight`` -> ``weights_norm/fc/weight``.

    Args:
        model: the model.
        reduction: tensor -> number or 0-d tensor; default ``torch.norm``.
        tag: optional prefix.
        whitelist: parameter-name prefixes, or ``(name, parameter) -> bool``; default: all.

    Example:
        >>> import tempfile, torch
        >>> from miniengine.engine import Engine, Events
        >>> model = torch.nn.Linear(2, 1)
        >>> trainer = Engine(lambda engine, batch: None)
        >>> with tempfile.TemporaryDirectory() as d, TensorboardLogger(log_dir=d) as tb:
        ...     handler = WeightsScalarHandler(model, whitelist=["weight"])
        ...     _ = tb.attach(trainer, handler, Events.EPOCH_COMPLETED)
        ...     _ = trainer.run([0])
    """


class WeightsHistHandler(_LogsParams, BaseWeightsHandler):
    """Log each parameter as a histogram ``[tag/]weights/<name>``.

    Args:
        model: the model.
        tag: optional prefix.
        whitelist: parameter-name prefixes, or ``(name, parameter) -> bool``; default: all.

    Example:
        >>> import torch
        >>> WeightsHistHandler(torch.nn.Linear(2, 1), whitelist=["bias"]).weights[0][0]
        'bias'
    """


class GradsScalarHandler(_LogsParams, BaseWeightsScalarHandler):
    """Log ``reduction(parameter.grad)`` as ``[tag/]grads_<reduction>/<name>``.

    Parameters without a gradient yet are skipped.

    Args:
        model: the model.
        reduction: tensor -> number or 0-d tensor; default ``torch.norm``.
        tag: optional prefix.
        whitelist: parameter-name prefixes, or ``(name, parameter) -> bool``; default: all.

    Example:
        >>> import torch
        >>> GradsScalarHandler(torch.nn.Linear(2, 1), reduction=torch.max).reduction.__name__
        'max'
    """

    _grads = True


class GradsHistHandler(_LogsParams, BaseWeightsHandler):
    """Log each parameter's gradient as a histogram ``[tag/]grads/<name>``.

    Parameters without a gradient yet are skipped.

    Args:
        model: the model.
        tag: optional prefix.
        whitelist: parameter-name prefixes, or ``(name, parameter) -> bool``; default: all.

    Example:
        >>> import torch
        >>> len(GradsHistHandler(torch.nn.Linear(2, 1)).weights)
        2
    """

    _grads = True
