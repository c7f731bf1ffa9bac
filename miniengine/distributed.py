"""Data-parallel training on ``torch.distributed``: thin helpers that do nothing in one process.

Use it as Ignite's ``ignite.distributed``: ``import miniengine.distributed as idist``. A script
written with these helpers runs unchanged as one process (``python train.py``) or as several
(``torchrun --nproc_per_node=2 train.py``): ``initialize()`` joins the process group that
``torchrun`` describes in the environment, ``auto_model`` wraps the model in
``DistributedDataParallel`` and ``auto_dataloader`` gives each process its own shard of the data.
The engine calls the sampler's ``set_epoch`` when an epoch starts, so the shards are reshuffled
every epoch, identically on every rank. Metrics sum their counts over ranks in ``compute()``.

Nothing here invents a communication layer: it is ``torch.distributed`` (gloo on CPU, NCCL on
GPUs), launched by ``torchrun``.

Example:
    >>> import miniengine.distributed as idist
    >>> idist.get_rank(), idist.get_world_size(), idist.all_reduce(3.0)
    (0, 1, 3.0)
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from datetime import timedelta
from numbers import Number
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset
from torch.utils.data.distributed import DistributedSampler

__all__ = [
    "all_gather",
    "all_reduce",
    "auto_dataloader",
    "auto_model",
    "auto_optim",
    "backend",
    "barrier",
    "device",
    "finalize",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "initialize",
    "one_rank_only",
]

F = TypeVar("F", bound=Callable[..., Any])


def _running() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    """The number of processes in the run; 1 without a process group.

    Example:
        >>> get_world_size()
        1
    """
    return dist.get_world_size() if _running() else 1


def get_rank() -> int:
    """This process's index among all processes, from 0; 0 without a process group.

    Example:
        >>> get_rank()
        0
    """
    return dist.get_rank() if _running() else 0


def get_local_rank() -> int:
    """This process's index on its machine (``LOCAL_RANK``, set by torchrun); 0 in one process.

    Example:
        >>> get_local_rank()
        0
    """
    return int(os.environ.get("LOCAL_RANK", get_rank())) if _running() else 0


def backend() -> str | None:
    """The process group's backend ("gloo", "nccl", ...), or None without a process group.

    Example:
        >>> backend() is None
        True
    """
    return str(dist.get_backend()) if _running() else None


def device() -> torch.device:
    """Where this process computes: its own GPU with NCCL, else CUDA if present, else the CPU.

    Example:
        >>> device().type in ("cpu", "cuda")
        True
    """
    if _running():
        if backend() == "nccl":
            return torch.device("cuda", get_local_rank())
        return torch.device("cpu")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def initialize(backend: str | None = None, timeout: float | None = None, **kwargs: Any) -> None:
    """Join the process group described by the environment (``torchrun`` sets it).

    Does nothing when the program was not started by a launcher (no ``WORLD_SIZE`` in the
    environment) or the group already exists, so a script may call it unconditionally.

    Args:
        backend: "gloo", "nccl", ...; None picks NCCL when CUDA is available, else gloo.
        timeout: seconds a collective waits for the other ranks before failing (torch's
            default, 10 to 30 minutes, if None).
        kwargs: passed on to ``torch.distributed.init_process_group``.

    Example:
        >>> initialize()  # a plain `python` run: still one process
        >>> get_world_size()
        1
    """
    if "WORLD_SIZE" not in os.environ or _running():
        return
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    if timeout is not None:
        kwargs["timeout"] = timedelta(seconds=timeout)
    dist.init_process_group(backend, **kwargs)


def finalize() -> None:
    """Leave the process group made by ``initialize`` (nothing to do without one).

    Example:
        >>> finalize()
    """
    if _running():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every process gets here.

    Example:
        >>> barrier()  # one process: returns at once
    """
    if _running():
        dist.barrier()


_OPS = {"SUM": "SUM", "PRODUCT": "PRODUCT", "MIN": "MIN", "MAX": "MAX", "AND": "BAND", "OR": "BOR"}


def all_reduce(tensor: torch.Tensor | float, op: str = "SUM") -> torch.Tensor | float:
    """Combine a tensor or number over all processes; every process gets the result.

    A tensor on this process's device is reduced in place (and returned); a number gives a
    number. In one process the input comes back as it is.

    Args:
        tensor: a tensor (same shape on every rank) or a number.
        op: "SUM", "PRODUCT", "MIN", "MAX", "AND" or "OR".

    Example:
        >>> all_reduce(torch.tensor([1, 2]), op="MAX")
        tensor([1, 2])
    """
    if op not in _OPS:
        raise ValueError(f"Argument op should be one of {list(_OPS)}, got {op!r}")
    if not isinstance(tensor, (torch.Tensor, Number)):
        raise TypeError(f"Argument tensor should be a tensor or a number, got {type(tensor)}")
    if not _running():
        return tensor
    where = device()
    if isinstance(tensor, torch.Tensor):
        t = tensor.to(where)
        dist.all_reduce(t, op=getattr(dist.ReduceOp, _OPS[op]))
        return t.to(tensor.device)
    dtype = torch.float64 if isinstance(tensor, float) else None
    t = torch.tensor(tensor, device=where, dtype=dtype)
    dist.all_reduce(t, op=getattr(dist.ReduceOp, _OPS[op]))
    return t.item()


def all_gather(tensor: torch.Tensor | Any) -> torch.Tensor | list[Any]:
    """Collect a value from every process, in rank order.

    A tensor (same shape on every rank) gives one tensor, concatenated along dim 0 (0-d tensors
    are stacked); anything else (numbers, strings, picklable objects) gives a list. In one process
    a tensor comes back as it is, anything else as a one-item list.

    Args:
        tensor: the value of this process.

    Example:
        >>> all_gather(torch.tensor([1, 2])), all_gather("only me")
        (tensor([1, 2]), ['only me'])
    """
    if not _running():
        return tensor if isinstance(tensor, torch.Tensor) else [tensor]
    if isinstance(tensor, torch.Tensor):
        t = tensor.to(device())
        t = t.reshape(1) if t.ndim == 0 else t.contiguous()
        parts = [torch.empty_like(t) for _ in range(get_world_size())]
        dist.all_gather(parts, t)
        return torch.cat(parts).to(tensor.device)
    values: list[Any] = [None] * get_world_size()
    dist.all_gather_object(values, tensor)
    return values


def one_rank_only(rank: int = 0, with_barrier: bool = False) -> Callable[[F], F]:
    """Decorator: the function runs on process ``rank`` only and returns None elsewhere.

    Meant for handlers with side effects (printing, writing files). The rank is read at each
    call, so the handler may be defined before the process group exists.

    Args:
        rank: the process that runs the function.
        with_barrier: every process then waits for the others (e.g. until a file is written).

    Example:
        >>> @one_rank_only()
        ... def report(engine):
        ...     return "printed once"
        >>> report(None)
        'printed once'
    """
    if not isinstance(rank, int) or rank < 0:
        raise ValueError(f"Argument rank should be a non-negative integer, got {rank!r}")

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = fn(*args, **kwargs) if get_rank() == rank else None
            if with_barrier:
                barrier()
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def auto_model(model: nn.Module, sync_bn: bool = False, **kwargs: Any) -> nn.Module:
    """Move ``model`` to ``device()`` and, with several processes, wrap it in DDP.

    ``DistributedDataParallel`` averages the gradients over processes during ``backward()``, so
    every rank takes the same optimizer step and the weights stay identical. Unlike Ignite, a
    single process with several GPUs gets no ``DataParallel``: use torchrun, one process per GPU.

    Args:
        model: the model.
        sync_bn: turn BatchNorm layers into ``SyncBatchNorm`` (statistics over all ranks).
        kwargs: passed on to ``DistributedDataParallel``, e.g. ``find_unused_parameters=True``.

    Example:
        >>> auto_model(nn.Linear(2, 1)).__class__.__name__  # one process: not wrapped
        'Linear'
    """
    model = model.to(device())
    if get_world_size() == 1:
        return model
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if backend() == "nccl":
        kwargs.setdefault("device_ids", [get_local_rank()])
    return nn.parallel.DistributedDataParallel(model, **kwargs)


def auto_dataloader(dataset: Dataset, **kwargs: Any) -> DataLoader:
    """A ``DataLoader`` that, with several processes, gives each rank its own part of the data.

    As in Ignite: ``batch_size`` is the total over ranks (each gets ``batch_size //
    world_size``), ``num_workers`` is shared among the processes of a machine, and a
    ``DistributedSampler`` is added (it shuffles unless ``shuffle=False``, and pads the data
    with repeated samples to a multiple of the world size). An ``IterableDataset`` is not split:
    it must yield different data on each rank itself.

    Args:
        dataset: a map-style or iterable dataset.
        kwargs: ``DataLoader`` arguments.

    Example:
        >>> loader = auto_dataloader(list(range(6)), batch_size=4)
        >>> [b.tolist() for b in loader]  # one process: a plain DataLoader
        [[0, 1, 2, 3], [4, 5]]
    """
    world = get_world_size()
    kwargs.setdefault("pin_memory", device().type == "cuda")
    if world == 1:
        return DataLoader(dataset, **kwargs)
    if kwargs.get("batch_size", 1) >= world:
        kwargs["batch_size"] //= world
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    if kwargs.get("num_workers", 0) >= per_node:
        kwargs["num_workers"] = -(-kwargs["num_workers"] // per_node)
    sampler = kwargs.get("sampler")
    if "batch_sampler" in kwargs:
        warnings.warn(
            "auto_dataloader got a batch_sampler: make sure it gives each rank its own data",
            stacklevel=2,
        )
    elif isinstance(dataset, IterableDataset) or isinstance(sampler, DistributedSampler):
        pass
    elif sampler is not None:
        raise ValueError(
            f"Argument sampler should be None or a DistributedSampler with {world} processes, "
            f"got {type(sampler).__name__}: it would give every rank the same data"
        )
    else:
        shuffle = kwargs.pop("shuffle", True)
        kwargs["sampler"] = DistributedSampler(dataset, world, get_rank(), shuffle=shuffle)
    return DataLoader(dataset, **kwargs)


def auto_optim(optimizer: torch.optim.Optimizer, **kwargs: Any) -> torch.optim.Optimizer:
    """The optimizer, unchanged: DDP already averages the gradients it sees.

    Kept for code written for Ignite, where Horovod and XLA wrap the optimizer here.

    Args:
        optimizer: the optimizer.
        kwargs: accepted for Ignite's signature; unused.

    Example:
        >>> opt = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
        >>> auto_optim(opt) is opt
        True
    """
    return optimizer
