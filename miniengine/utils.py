"""Small helpers that training scripts import from ``ignite.utils``: seeds, loggers, tensors.

Example:
    >>> import torch
    >>> from miniengine.utils import convert_tensor, to_onehot
    >>> convert_tensor({"x": torch.ones(1), "names": ["a"]}, device="cpu")
    {'x': tensor([1.]), 'names': ['a']}
    >>> to_onehot(torch.tensor([0, 2]), num_classes=3)
    tensor([[1, 0, 0],
            [0, 0, 1]], dtype=torch.uint8)
"""

from __future__ import annotations

import functools
import hashlib
import logging
import random
import shutil
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

import torch

__all__ = [
    "apply_to_tensor",
    "apply_to_type",
    "convert_tensor",
    "deprecated",
    "hash_checkpoint",
    "manual_seed",
    "setup_logger",
    "to_onehot",
]

F = TypeVar("F", bound=Callable[..., Any])


def apply_to_type(x: Any, input_type: type | tuple[type, ...], func: Callable[[Any], Any]) -> Any:
    """Apply ``func`` to every object of ``input_type`` in ``x``, keeping the containers' types.

    Dicts (any mapping), lists, tuples and named tuples are rebuilt with the same type around
    the new values; strings and bytes are returned as they are.

    Args:
        x: an object of ``input_type``, or containers nesting them.
        input_type: the type (or tuple of types) to apply ``func`` to.
        func: called on each object of ``input_type``.

    Raises:
        TypeError: ``x`` holds something else (neither ``input_type`` nor a container).

    Example:
        >>> apply_to_type({"a": 1, "b": (2, "s")}, int, lambda v: v * 10)
        {'a': 10, 'b': (20, 's')}
    """
    if isinstance(x, input_type):
        return func(x)
    if isinstance(x, (str, bytes)):
        return x
    if isinstance(x, Mapping):
        return type(x)({k: apply_to_type(v, input_type, func) for k, v in x.items()})  # type: ignore[call-arg]
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # a named tuple takes fields, not a list
        return type(x)(*(apply_to_type(v, input_type, func) for v in x))
    if isinstance(x, Sequence):
        return type(x)([apply_to_type(v, input_type, func) for v in x])  # type: ignore[call-arg]
    raise TypeError(f"x must contain {input_type}, dicts or lists; found {type(x)}")


def apply_to_tensor(x: Any, func: Callable[[torch.Tensor], Any]) -> Any:
    """Apply ``func`` to every tensor in ``x`` (a tensor, or dicts / lists / tuples of them).

    Args:
        x: a tensor or containers nesting tensors.
        func: called on each tensor.

    Example:
        >>> apply_to_tensor([torch.ones(2), "label"], lambda t: t.sum())
        [tensor(2.), 'label']
    """
    return apply_to_type(x, torch.Tensor, func)


def convert_tensor(
    x: Any, device: str | torch.device | None = None, non_blocking: bool = False
) -> Any:
    """Move every tensor in ``x`` to ``device``; ``device=None`` leaves them where they are.

    Args:
        x: a tensor or containers nesting tensors (a batch).
        device: where to move the tensors.
        non_blocking: copy pinned CPU memory to the GPU asynchronously.

    Example:
        >>> convert_tensor((torch.zeros(1), torch.ones(1)), device="cpu")
        (tensor([0.]), tensor([1.]))
    """
    if device is None:
        return apply_to_tensor(x, lambda t: t)
    return apply_to_tensor(x, lambda t: t.to(device=device, non_blocking=non_blocking))


def to_onehot(indices: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One-hot encode class indices: shape ``(N, ...)`` becomes ``(N, num_classes, ...)``, uint8.

    The result is on the device of ``indices``; the function can be compiled by
    ``torch.jit.script``.

    Args:
        indices: integer class indices, at least one dimension.
        num_classes: number of classes (size of the new dimension 1).

    Example:
        >>> to_onehot(torch.tensor([[1], [0]]), 2).shape
        torch.Size([2, 2, 1])
    """
    shape = [indices.shape[0], num_classes] + list(indices.shape[1:])
    onehot = torch.zeros(shape, dtype=torch.uint8, device=indices.device)
    return onehot.scatter_(1, indices.unsqueeze(1), 1)


def setup_logger(
    name: str | None = "miniengine",
    level: int = logging.INFO,
    stream: TextIO | None = None,
    format: str = "%(asctime)s %(name)s %(levelname)s: %(message)s",
    filepath: str | Path | None = None,
    distributed_rank: int | None = None,
    reset: bool = False,
    encoding: str | None = "utf-8",
) -> logging.Logger:
    """Get the logger ``name``, configured to print ``level`` and above to ``stream``.

    A new logger gets a stream handler (``stream``, else whatever ``sys.stderr`` is when a
    message is written), a file handler if ``filepath`` is given, both with ``format`` and
    ``level``, and stops propagating to the root logger (so messages are not printed twice).
    A logger that already exists is returned unchanged unless ``reset=True``, which removes its
    handlers first and configures it anew. On processes other than rank 0 the logger only gets
    a ``NullHandler``: one copy of each message.

    Args:
        name: the logger's name (None: the root logger).
        level: e.g. ``logging.INFO``.
        stream: where to print (default ``sys.stderr``).
        format: the ``logging.Formatter`` format.
        filepath: also write to this file.
        distributed_rank: this process's rank (default: ``miniengine.distributed.get_rank()``).
        reset: reconfigure a logger that exists already.
        encoding: the file's encoding.

    Example:
        >>> import sys
        >>> log = setup_logger("doc.trainer", stream=sys.stdout, format="%(name)s: %(message)s")
        >>> log.info("epoch 1 done")
        doc.trainer: epoch 1 done
    """
    # A logger made before (not a placeholder that a child's name left): keep its set-up.
    existed = name is None or isinstance(logging.root.manager.loggerDict.get(name), logging.Logger)
    logger = logging.getLogger(name)
    if distributed_rank is None:
        from miniengine.distributed import get_rank

        distributed_rank = get_rank()
    if distributed_rank > 0 or reset:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
    if distributed_rank > 0:
        logger.addHandler(logging.NullHandler())
    if existed and not reset:
        return logger
    if distributed_rank == 0:
        logger.setLevel(level)
        formatter = logging.Formatter(format)
        handlers: list[logging.Handler] = [
            logging.StreamHandler(stream) if stream is not None else _StderrHandler()
        ]
        if filepath is not None:
            handlers.append(logging.FileHandler(filepath, encoding=encoding))
        for handler in handlers:
            handler.setLevel(level)
            handler.setFormatter(formatter)
            logger.addHandler(handler)
    if name is not None:
        logger.propagate = False
    return logger


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is at each message, not as it was at set-up.

    So a logger made once keeps printing where stderr goes now (``contextlib.redirect_stderr``,
    a test's capture), instead of into a stream that may be closed by then.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def manual_seed(seed: int) -> None:
    """Seed Python's ``random``, torch (CPU and every GPU) and numpy's global generator.

    Args:
        seed: the seed.

    Example:
        >>> manual_seed(3); a = torch.rand(1)
        >>> manual_seed(3); bool(torch.rand(1) == a)
        True
    """
    random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
    try:
        import numpy as np
    except ImportError:  # numpy is a dependency, but torch does not need it
        return
    np.random.seed(seed)


def deprecated(
    deprecated_in: str,
    removed_in: str = "",
    reasons: tuple[str, ...] = (),
    raise_exception: bool = False,
) -> Callable[[F], F]:
    """Decorator: calling the function warns (``DeprecationWarning``) or raises that it is old.

    The docstring is prefixed with ``**Deprecated function**.`` and followed by a
    ``.. deprecated::`` note listing ``reasons``, as Ignite's is.

    Args:
        deprecated_in: version that deprecated the function.
        removed_in: version that will remove it ("" if not planned).
        reasons: lines appended to the docstring.
        raise_exception: raise the ``DeprecationWarning`` instead of warning.

    Example:
        >>> @deprecated("0.1", "0.3")
        ... def old():
        ...     return 1
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     old(), str(caught[0].message).split(" and ")[0]
        (1, 'This function has been deprecated since version 0.1')
    """
    until = f" and will be removed in version {removed_in}" if removed_in else ""
    message = (
        f"This function has been deprecated since version {deprecated_in}{until}.\n"
        " Please refer to the documentation for more details."
    )
    note = f".. deprecated:: {deprecated_in}" + ("\n\n\t" if reasons else "")
    note += "".join(f"\n\t- {reason}" for reason in reasons)

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if raise_exception:
                raise DeprecationWarning(message)
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            return func(*args, **kwargs)

        wrapper.__doc__ = f"**Deprecated function**.\n\n    {func.__doc__ or ''}{note}"
        return wrapper  # type: ignore[return-value]

    return decorate


def hash_checkpoint(checkpoint_path: str | Path, output_dir: str | Path) -> tuple[Path, str]:
    """Move a checkpoint file to ``output_dir/<stem>-<first 8 hex of its SHA-256>.pt``.

    That name is what ``torch.hub.load_state_dict_from_url(..., check_hash=True)`` checks.

    Args:
        checkpoint_path: the file to hash (it is moved, not copied).
        output_dir: the folder to move it to (created if needed).

    Returns:
        the new path and the full SHA-256 hex digest.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> torch.save({"w": torch.zeros(1)}, folder / "model.pt")
        >>> path, digest = hash_checkpoint(folder / "model.pt", folder / "out")
        >>> path.name == f"model-{digest[:8]}.pt"
        True
    """
    checkpoint_path = Path(checkpoint_path)
    if not checkpoint_path.exists():
        raise FileNotFoundError(
            f"{checkpoint_path.name} does not exist in {checkpoint_path.parent}."
        )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with checkpoint_path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    sha = digest.hexdigest()
    target = output_dir / f"{checkpoint_path.stem}-{sha[:8]}.pt"
    shutil.move(str(checkpoint_path), target)
    return target, sha
