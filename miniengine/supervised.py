"""Ready-made trainer and evaluator engines for the usual supervised ``(x, y)`` loop.

``create_supervised_trainer`` builds an ``Engine`` whose process function is one optimization
step; ``create_supervised_evaluator`` one whose process function runs the model without
gradients and hands ``(y_pred, y)`` to its metrics. Both match Ignite 0.5.5's signatures and
numbers (``deterministic=True`` gives a ``DeterministicEngine``). Not provided:
``amp_mode="apex"`` and TPU devices.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

import miniengine.engine as _steps  # where Ignite's code finds (and patches) the step functions
from miniengine.engine import Engine
from miniengine.engine.deterministic import DeterministicEngine

__all__ = [
    "create_supervised_evaluator",
    "create_supervised_trainer",
    "supervised_evaluation_step",
    "supervised_evaluation_step_amp",
    "supervised_training_step",
    "supervised_training_step_amp",
    "supervised_training_step_apex",
    "supervised_training_step_tpu",
]

Device = str | torch.device | None


def _to_device(x: Any, device: Device, non_blocking: bool) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to(device=device, non_blocking=non_blocking) if device is not None else x
    if isinstance(x, (str, bytes)):
        return x
    if isinstance(x, Mapping):
        moved = {k: _to_device(v, device, non_blocking) for k, v in x.items()}
        return type(x)(moved)  # type: ignore[call-arg]
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # a namedtuple takes fields positionally
        return type(x)(*(_to_device(v, device, non_blocking) for v in x))
    if isinstance(x, Sequence):
        return type(x)([_to_device(v, device, non_blocking) for v in x])  # type: ignore[call-arg]
    raise TypeError(f"x must contain tensors, dicts or lists; found {type(x)}")


def _prepare_batch(
    batch: Sequence[Any], device: Device = None, non_blocking: bool = False
) -> tuple[Any, Any]:
    """Split ``batch`` into ``(x, y)`` and move the tensors in each to ``device``.

    Tensors nested in lists, tuples and dicts are moved too; strings stay as they are.

    A tensor with 2 rows is split into ``x = batch[0]`` and ``y = batch[1]``, as Ignite does,
    with a warning: it is more often a batch of two samples without labels than a pair.

    Args:
        batch: a pair ``(x, y)``: a tuple or list of two items (or a tensor of 2 rows).
        device: where to move the tensors; None leaves them where they are.
        non_blocking: asynchronous copy from pinned CPU memory to a GPU.

    Raises:
        TypeError: ``batch`` is not a pair, e.g. a tensor of another number of rows, or a dict.

    Example:
        >>> import torch
        >>> _prepare_batch((torch.zeros(2), [torch.ones(1)]))
        (tensor([0., 0.]), [tensor([1.])])
    """
    if isinstance(batch, torch.Tensor) and batch.dim() and len(batch) == 2:
        warnings.warn(
            f"The default prepare_batch split a tensor batch of shape {tuple(batch.shape)} into "
            "x = batch[0], y = batch[1], as Ignite does; if the data is not (x, y) pairs, pass "
            "a prepare_batch of your own",
            stacklevel=2,
        )
    elif isinstance(batch, (str, bytes, Mapping, torch.Tensor)) or not (
        isinstance(batch, Sequence) and len(batch) == 2
    ):
        raise TypeError(
            f"The default prepare_batch expects each batch to be a pair (x, y), got "
            f"{_describe_batch(batch)}. Make the data yield (x, y) pairs (e.g. a DataLoader over "
            "a TensorDataset(x, y)), or pass prepare_batch=lambda batch, device, non_blocking: "
            "(x, y) to create_supervised_trainer / create_supervised_evaluator."
        )
    x, y = batch
    return _to_device(x, device, non_blocking), _to_device(y, device, non_blocking)


def _describe_batch(batch: Any) -> str:
    if isinstance(batch, torch.Tensor):
        return f"a tensor of shape {tuple(batch.shape)}"
    if isinstance(batch, Mapping):
        return f"a {type(batch).__name__} with keys {list(batch)[:10]}"
    if isinstance(batch, Sequence) and not isinstance(batch, (str, bytes)):
        return f"a {type(batch).__name__} of length {len(batch)}"
    return f"a value of type {type(batch).__name__}"


def _identity(output: Any) -> Any:
    return output


def _loss_item(x: Any, y: Any, y_pred: Any, loss: torch.Tensor) -> Any:
    return loss.item()


def _pred_and_target(x: Any, y: Any, y_pred: Any) -> Any:
    return y_pred, y


def _call_model(model: torch.nn.Module, x: Any) -> Any:
    return model(x)


def _check_accumulation(gradient_accumulation_steps: int) -> None:
    if gradient_accumulation_steps <= 0:
        raise ValueError(
            "Gradient_accumulation_steps must be strictly positive. "
            "No gradient accumulation if the value set to one (default). "
            f"Got {gradient_accumulation_steps!r}"
        )


def _training_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor] | torch.nn.Module,
    device: Device,
    non_blocking: bool,
    prepare_batch: Callable[..., Any],
    model_transform: Callable[[Any], Any],
    output_transform: Callable[[Any, Any, Any, torch.Tensor], Any],
    gradient_accumulation_steps: int,
    model_fn: Callable[[torch.nn.Module, Any], Any],
    amp: bool,
    scaler: Any,
) -> Callable[[Engine, Any], Any]:
    _check_accumulation(gradient_accumulation_steps)
    steps = gradient_accumulation_steps

    def update(engine: Engine, batch: Any) -> Any:
        # iteration is 1-based: zero the gradients on the first batch of each group of `steps`
        if (engine.state.iteration - 1) % steps == 0:
            optimizer.zero_grad()
        model.train()
        x, y = prepare_batch(batch, device=device, non_blocking=non_blocking)
        with torch.amp.autocast("cuda") if amp else contextlib.nullcontext():
            y_pred = model_transform(model_fn(model, x))
            loss = loss_fn(y_pred, y)
            if steps > 1:
                loss = loss / steps
        if scaler:
            scaler.scale(loss).backward()
        else:
            loss.backward()
        if engine.state.iteration % steps == 0:
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
        # Ignite reports loss * steps, not the unscaled loss: the same up to rounding
        return output_transform(x, y, y_pred, loss * steps)

    return update


def supervised_training_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor] | torch.nn.Module,
    device: Device = None,
    non_blocking: bool = False,
    prepare_batch: Callable[..., Any] = _prepare_batch,
    model_transform: Callable[[Any], Any] = _identity,
    output_transform: Callable[[Any, Any, Any, torch.Tensor], Any] = _loss_item,
    gradient_accumulation_steps: int = 1,
    model_fn: Callable[[torch.nn.Module, Any], Any] = _call_model,
) -> Callable[[Engine, Any], Any]:
    """Make the process function of one training step: forward, loss, backward, optimizer step.

    With ``gradient_accumulation_steps=n`` the loss is divided by ``n``, gradients are zeroed on
    iterations 1, n+1, 2n+1, ... and the optimizer steps on iterations n, 2n, ...

    Args:
        model: the model to train (``model.train()`` is called each step; it is not moved).
        optimizer: the optimizer.
        loss_fn: ``(y_pred, y) -> loss tensor``.
        device: where to move each batch; None leaves it in place.
        non_blocking: asynchronous copy of pinned batches to the GPU.
        prepare_batch: ``(batch, device, non_blocking) -> (x, y)``.
        model_transform: applied to the model's output to give ``y_pred``.
        output_transform: ``(x, y, y_pred, loss) -> engine.state.output``; ``loss.item()`` by
            default.
        gradient_accumulation_steps: number of batches whose gradients add up before a step.
        model_fn: ``(model, x) -> output``; ``model(x)`` by default.

    Example:
        >>> import torch
        >>> from miniengine.engine import Engine
        >>> model = torch.nn.Linear(1, 1, bias=False)
        >>> torch.nn.init.zeros_(model.weight)
        Parameter containing:
        tensor([[0.]], requires_grad=True)
        >>> sgd = torch.optim.SGD(model.parameters(), lr=0.5)
        >>> step = supervised_training_step(model, sgd, torch.nn.functional.mse_loss)
        >>> batch = (torch.ones(1, 1), torch.ones(1, 1))
        >>> Engine(step).run([batch]).output  # loss before the step: (0 - 1) ** 2
        1.0
        >>> model.weight.item()  # 0 - 0.5 * d(w - 1)^2/dw = 0 - 0.5 * -2
        1.0
    """
    return _training_step(
        model, optimizer, loss_fn, device, non_blocking, prepare_batch, model_transform,
        output_transform, gradient_accumulation_steps, model_fn, amp=False, scaler=None,
    )  # fmt: skip


def supervised_training_step_amp(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor] | torch.nn.Module,
    device: Device = None,
    non_blocking: bool = False,
    prepare_batch: Callable[..., Any] = _prepare_batch,
    model_transform: Callable[[Any], Any] = _identity,
    output_transform: Callable[[Any, Any, Any, torch.Tensor], Any] = _loss_item,
    scaler: torch.amp.GradScaler | None = None,
    gradient_accumulation_steps: int = 1,
    model_fn: Callable[[torch.nn.Module, Any], Any] = _call_model,
) -> Callable[[Engine, Any], Any]:
    """Like ``supervised_training_step``, with the forward pass under CUDA autocast.

    As in Ignite, autocast is for ``"cuda"`` whatever ``device`` is (on a CPU it is disabled,
    with a warning from torch).

    Args:
        model, optimizer, loss_fn, device, non_blocking, prepare_batch, model_transform,
            output_transform, gradient_accumulation_steps, model_fn: as for
            ``supervised_training_step``.
        scaler: a ``torch.amp.GradScaler`` scaling the loss before backward, or None.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(2, 1)
        >>> sgd = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> step = supervised_training_step_amp(model, sgd, torch.nn.functional.mse_loss)
        >>> callable(step)
        True
    """
    return _training_step(
        model, optimizer, loss_fn, device, non_blocking, prepare_batch, model_transform,
        output_transform, gradient_accumulation_steps, model_fn, amp=True, scaler=scaler,
    )  # fmt: skip


def _evaluation_step(
    model: torch.nn.Module,
    device: Device,
    non_blocking: bool,
    prepare_batch: Callable[..., Any],
    model_transform: Callable[[Any], Any],
    output_transform: Callable[[Any, Any, Any], Any],
    model_fn: Callable[[torch.nn.Module, Any], Any],
    amp: bool,
) -> Callable[[Engine, Any], Any]:
    def evaluate(engine: Engine, batch: Any) -> Any:
        model.eval()
        with torch.no_grad():
            x, y = prepare_batch(batch, device=device, non_blocking=non_blocking)
            with torch.amp.autocast("cuda") if amp else contextlib.nullcontext():
                y_pred = model_transform(model_fn(model, x))
            return output_transform(x, y, y_pred)

    return evaluate


def supervised_evaluation_step(
    model: torch.nn.Module,
    device: Device = None,
    non_blocking: bool = False,
    prepare_batch: Callable[..., Any] = _prepare_batch,
    model_transform: Callable[[Any], Any] = _identity,
    output_transform: Callable[[Any, Any, Any], Any] = _pred_and_target,
    model_fn: Callable[[torch.nn.Module, Any], Any] = _call_model,
) -> Callable[[Engine, Any], Any]:
    """Make the process function of one evaluation step: ``model.eval()``, forward without grad.

    Args:
        model: the model to evaluate (not moved).
        device: where to move each batch; None leaves it in place.
        non_blocking: asynchronous copy of pinned batches to the GPU.
        prepare_batch: ``(batch, device, non_blocking) -> (x, y)``.
        model_transform: applied to the model's output to give ``y_pred``.
        output_transform: ``(x, y, y_pred) -> engine.state.output``; ``(y_pred, y)`` by default,
            the form metrics expect.
        model_fn: ``(model, x) -> output``; ``model(x)`` by default.

    Example:
        >>> import torch
        >>> from miniengine.engine import Engine
        >>> step = supervised_evaluation_step(torch.nn.Identity())
        >>> Engine(step).run([(torch.tensor([2.0]), torch.tensor([3.0]))]).output
        (tensor([2.]), tensor([3.]))
    """
    return _evaluation_step(
        model, device, non_blocking, prepare_batch, model_transform, output_transform, model_fn,
        amp=False,
    )  # fmt: skip


def supervised_evaluation_step_amp(
    model: torch.nn.Module,
    device: Device = None,
    non_blocking: bool = False,
    prepare_batch: Callable[..., Any] = _prepare_batch,
    model_transform: Callable[[Any], Any] = _identity,
    output_transform: Callable[[Any, Any, Any], Any] = _pred_and_target,
    model_fn: Callable[[torch.nn.Module, Any], Any] = _call_model,
) -> Callable[[Engine, Any], Any]:
    """Like ``supervised_evaluation_step``, with the forward pass under CUDA autocast.

    Args:
        model, device, non_blocking, prepare_batch, model_transform, output_transform, model_fn:
            as for ``supervised_evaluation_step``.

    Example:
        >>> import torch
        >>> callable(supervised_evaluation_step_amp(torch.nn.Identity()))
        True
    """
    return _evaluation_step(
        model, device, non_blocking, prepare_batch, model_transform, output_transform, model_fn,
        amp=True,
    )  # fmt: skip


def supervised_training_step_apex(*args: Any, **kwargs: Any) -> Callable:
    """Ignite's training step with NVIDIA apex: miniengine has no apex support, so this raises
    what Ignite raises where apex is not installed.

    Args:
        *args: Ignite's arguments (model, optimizer, loss_fn, ...).
        **kwargs: Ignite's keyword arguments.

    Example:
        >>> try:
        ...     supervised_training_step_apex(None, None, None)
        ... except ModuleNotFoundError as error:
        ...     print(str(error).split(".")[0])
        Please install apex from https://github
    """
    raise ModuleNotFoundError(
        "Please install apex from https://github.com/nvidia/apex to use amp_mode='apex'. "
        "(miniengine does not support apex: use supervised_training_step_amp, torch.amp.)"
    )


def supervised_training_step_tpu(*args: Any, **kwargs: Any) -> Callable:
    """Ignite's training step on TPUs: miniengine has no XLA support, so this raises what
    Ignite raises where torch_xla is not installed.

    Args:
        *args: Ignite's arguments (model, optimizer, loss_fn, ...).
        **kwargs: Ignite's keyword arguments.

    Example:
        >>> try:
        ...     supervised_training_step_tpu(None, None, None)
        ... except ModuleNotFoundError as error:
        ...     print(str(error).split(",")[0])
        torch_xla cannot be imported
    """
    raise ModuleNotFoundError(
        "torch_xla cannot be imported, please install PyTorch XLA. (miniengine does not "
        "support XLA devices.)"
    )


def _check_device_and_amp(device: Device, amp_mode: str | None, modes: tuple = (None, "amp")):
    device_type = device.type if isinstance(device, torch.device) else device
    if amp_mode and device_type is not None and "mps" in device_type:
        raise ValueError(
            "amp_mode cannot be used with mps device. Consider using amp_mode=None or "
            "device='cuda'."
        )
    if device_type is not None and "xla" in device_type:  # Ignite's words where XLA is missing
        raise RuntimeError(
            f"In order to run on TPU, please install PyTorch XLA (device={device!r}; miniengine "
            "does not support TPU devices)"
        )
    if amp_mode not in modes:
        raise ValueError(
            f"Argument amp_mode should be None or 'amp', got {amp_mode!r} (miniengine does "
            "not support apex)"
        )


def create_supervised_trainer(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor] | torch.nn.Module,
    device: Device = None,
    non_blocking: bool = False,
    prepare_batch: Callable[..., Any] = _prepare_batch,
    model_transform: Callable[[Any], Any] = _identity,
    output_transform: Callable[[Any, Any, Any, torch.Tensor], Any] = _loss_item,
    deterministic: bool = False,
    amp_mode: str | None = None,
    scaler: bool | torch.amp.GradScaler = False,
    gradient_accumulation_steps: int = 1,
    model_fn: Callable[[torch.nn.Module, Any], Any] = _call_model,
) -> Engine:
    """Make a trainer: an ``Engine`` running ``supervised_training_step`` on each batch.

    Args:
        model: the model to train (not moved to ``device``: move it yourself first).
        optimizer: the optimizer.
        loss_fn: ``(y_pred, y) -> loss tensor``.
        device, non_blocking, prepare_batch, model_transform, output_transform: as for
            ``supervised_training_step``.
        deterministic: return a ``DeterministicEngine`` (re-seeded at each epoch, as Ignite's)
            instead of an ``Engine``. The plain ``Engine`` already resumes at the exact batch
            (``docs/resume.md``).
        amp_mode: None, or ``"amp"`` for the forward pass under ``torch.amp.autocast("cuda")``.
        scaler: with ``amp_mode="amp"``: True makes a ``torch.amp.GradScaler`` (stored as
            ``trainer.state.scaler``), or pass your own; False uses none.
        gradient_accumulation_steps, model_fn: as for ``supervised_training_step``.

    Example:
        >>> import torch
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = torch.nn.Linear(3, 1)
        >>> sgd = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> trainer = create_supervised_trainer(model, sgd, torch.nn.MSELoss())
        >>> data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(5)]
        >>> losses = []
        >>> from miniengine.engine import Events
        >>> _ = trainer.add_event_handler(
        ...     Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output)
        ... )
        >>> _ = trainer.run(data, max_epochs=20)
        >>> losses[-1] < losses[0]
        True
    """
    _check_device_and_amp(device, amp_mode, (None, "amp", "apex"))
    if scaler and amp_mode != "amp":  # as in Ignite, before apex is found missing
        raise ValueError(
            f"scaler argument is {scaler}, but amp_mode is {amp_mode}. Consider using "
            "amp_mode='amp'."
        )
    if scaler is True and not hasattr(torch.amp, "GradScaler"):  # torch 2.1, 2.2
        raise ImportError("Please install torch>=2.3.1 to use scaler argument.")
    grad_scaler = torch.amp.GradScaler(enabled=True) if scaler is True else (scaler or None)
    # Looked up in miniengine.engine at each call, as Ignite's are in ignite.engine: a test
    # that patches `miniengine.engine.supervised_training_step` sees its mock called.
    args = (model, optimizer, loss_fn, device, non_blocking, prepare_batch, model_transform,
            output_transform)  # fmt: skip
    if amp_mode == "apex":  # raises what Ignite raises where apex is not installed
        update = _steps.supervised_training_step_apex(*args, gradient_accumulation_steps)
    elif amp_mode == "amp":
        update = _steps.supervised_training_step_amp(
            *args, grad_scaler, gradient_accumulation_steps, model_fn
        )
    else:
        update = _steps.supervised_training_step(*args, gradient_accumulation_steps, model_fn)
    engine_class: type[Engine] = DeterministicEngine if deterministic else Engine
    trainer = engine_class(update)
    if scaler is True:  # as Ignite: a scaler made here is kept where handlers can reach it
        trainer.state.scaler = grad_scaler  # type: ignore[attr-defined]
    return trainer


def create_supervised_evaluator(
    model: torch.nn.Module,
    metrics: dict[str, Any] | None = None,
    device: Device = None,
    non_blocking: bool = False,
    prepare_batch: Callable[..., Any] = _prepare_batch,
    model_transform: Callable[[Any], Any] = _identity,
    output_transform: Callable[[Any, Any, Any], Any] = _pred_and_target,
    amp_mode: str | None = None,
    model_fn: Callable[[torch.nn.Module, Any], Any] = _call_model,
) -> Engine:
    """Make an evaluator: an ``Engine`` running ``supervised_evaluation_step``, metrics attached.

    After ``evaluator.run(data)``, ``evaluator.state.metrics[name]`` holds each metric's value.

    Args:
        model: the model to evaluate (not moved to ``device``).
        metrics: name -> metric, each attached to the evaluator under its name.
        device, non_blocking, prepare_batch, model_transform, output_transform: as for
            ``supervised_evaluation_step``.
        amp_mode: None, or ``"amp"`` for the forward pass under ``torch.amp.autocast("cuda")``.
        model_fn: as for ``supervised_evaluation_step``.

    Example:
        >>> import torch
        >>> from miniengine.metrics import Accuracy
        >>> model = torch.nn.Linear(2, 2)
        >>> evaluator = create_supervised_evaluator(model, metrics={"acc": Accuracy()})
        >>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> y = model(x).argmax(dim=1)  # the model's own predictions: accuracy 1
        >>> evaluator.run([(x, y)]).metrics["acc"]
        1.0
    """
    _check_device_and_amp(device, amp_mode)
    amp = amp_mode == "amp"  # looked up as in create_supervised_trainer
    make = _steps.supervised_evaluation_step_amp if amp else _steps.supervised_evaluation_step
    step = make(
        model, device, non_blocking, prepare_batch, model_transform, output_transform, model_fn
    )
    evaluator = Engine(step)
    for name, metric in (metrics or {}).items():
        metric.attach(evaluator, name)
    return evaluator
