"""Data-parallel training on ``torch.distributed``: thin helpers that do nothing in one process.

Use it as Ignite's ``ignite.distributed``: ``import miniengine.distributed as idist``. A script
written with these helpers runs unchanged as one process (``python train.py``) or as several
(``torchrun --nproc_per_node=2 train.py``): ``initialize()`` joins the process group that
``torchrun`` describes in the environment, ``auto_model`` wraps the model in
``DistributedDataParallel`` and ``auto_dataloader`` gives each process its own shard of the data.
The engine calls the sampler's ``set_epoch`` when an epoch starts, so the shards are reshuffled
every epoch, identically on every rank. Metrics sum their counts over ranks in ``compute()``.

Nothing here invents a communication layer: it is ``torch.distributed`` (gloo on CPU, NCCL on
GPUs), launched by ``torchrun`` (or by ``spawn``, from Python). Every helper reads the live
``torch.distributed`` state, so a process group made by hand (``dist.init_process_group``) is
seen at once; only the node layout (``get_nproc_per_node``, ``get_nnodes``, ``get_node_rank``)
is computed once per group.

Example:
    >>> import miniengine.distributed as idist
    >>> idist.get_rank(), idist.get_world_size(), idist.all_reduce(3.0)
    (0, 1, 3.0)
"""

from __future__ import annotations

import builtins
import functools
import os
import socket
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from numbers import Number
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler
from torch.utils.data.distributed import DistributedSampler

__all__ = [
    "DistributedProxySampler",
    "Parallel",
    "all_gather",
    "all_gather_tensors_with_shapes",
    "all_reduce",
    "auto_dataloader",
    "auto_model",
    "auto_optim",
    "available_backends",
    "backend",
    "barrier",
    "broadcast",
    "device",
    "finalize",
    "get_local_rank",
    "get_nnodes",
    "get_node_rank",
    "get_nproc_per_node",
    "get_rank",
    "get_world_size",
    "has_hvd_support",
    "has_native_dist_support",
    "has_xla_support",
    "hostname",
    "initialize",
    "model_name",
    "new_group",
    "one_rank_first",
    "one_rank_only",
    "set_local_rank",
    "show_config",
    "spawn",
    "sync",
]

F = TypeVar("F", bound=Callable[..., Any])

#: torch.distributed is usable here. Horovod and XLA are not supported (always False).
has_native_dist_support: bool = dist.is_available()
has_xla_support: bool = False
has_hvd_support: bool = False


def _running() -> bool:
    return dist.is_available() and dist.is_initialized()


def available_backends() -> tuple[str, ...]:
    """The ``torch.distributed`` backends this build of torch has ("nccl", "gloo", "mpi").

    Example:
        >>> "gloo" in available_backends()
        True
    """
    if not has_native_dist_support:
        return ()
    return tuple(b for b in ("nccl", "gloo", "mpi") if getattr(dist, f"is_{b}_available")())


def model_name() -> str:
    """``"native-dist"`` inside a process group, ``"serial"`` without one (Ignite's names).

    Example:
        >>> model_name()
        'serial'
    """
    return "native-dist" if _running() else "serial"


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
    """This process's index on its machine; 0 in one process.

    Read from ``LOCAL_RANK`` (torchrun sets it), else from ``set_local_rank``, else guessed
    from the host names of all ranks (with a warning, as Ignite does).

    Example:
        >>> get_local_rank()
        0
    """
    if not _running():
        return 0
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    return _node_layout()["local_rank"]


def set_local_rank(index: int) -> None:
    """Tell the helpers this process's local rank when ``LOCAL_RANK`` is not in the environment.

    Args:
        index: the local rank (e.g. the index that ``torch.multiprocessing.spawn`` passes).

    Example:
        >>> set_local_rank(0)
    """
    global _local_rank_override, _layout
    _local_rank_override = index
    _layout = None


def get_nproc_per_node() -> int:
    """Processes per machine; 1 in one process.

    From ``LOCAL_WORLD_SIZE`` (torchrun), else the largest local rank over all ranks plus one.

    Example:
        >>> get_nproc_per_node()
        1
    """
    return _node_layout()["nproc_per_node"]


def get_nnodes() -> int:
    """Number of machines in the run (world size / processes per machine); 1 in one process.

    Example:
        >>> get_nnodes()
        1
    """
    return _node_layout()["nnodes"]


def get_node_rank() -> int:
    """This machine's index among the machines (rank // processes per machine); 0 in one process.

    Example:
        >>> get_node_rank()
        0
    """
    return _node_layout()["node_rank"]


def hostname() -> str:
    """This machine's host name.

    Example:
        >>> isinstance(hostname(), str)
        True
    """
    return socket.gethostname()


_local_rank_override: int | None = None
# (the default process group it describes, the layout): computed once per group, since finding
# it may need a collective that every rank must join
_layout: tuple[Any, dict[str, int]] | None = None


def _node_layout() -> dict[str, int]:
    global _layout
    if not _running():
        return {"local_rank": 0, "nproc_per_node": 1, "nnodes": 1, "node_rank": 0}
    group = dist.group.WORLD
    if _layout is not None and _layout[0] is group:
        return _layout[1]
    world, rank = dist.get_world_size(), dist.get_rank()
    local = os.environ.get("LOCAL_RANK", _local_rank_override)
    local = None if local is None else int(local)
    if local is not None and "LOCAL_WORLD_SIZE" in os.environ:
        nproc = int(os.environ["LOCAL_WORLD_SIZE"])
    elif world == 1:
        local, nproc = 0, 1
    else:
        # every rank's host name and local rank (if it knows it), in rank order
        seen: list[Any] = [None] * world
        dist.all_gather_object(seen, (hostname(), local))
        if local is None:
            warnings.warn(
                "Local rank information for native distributed setting will be initialized "
                "using a heuristic approach based on the hostnames: set LOCAL_RANK in the "
                "environment or call idist.set_local_rank(local_rank) to avoid it.",
                stacklevel=3,
            )
            hosts = [h for h, _ in seen]
            locals_ = [hosts[:r].count(h) for r, h in enumerate(hosts)]
            local = locals_[rank]
        else:
            locals_ = [lr for _, lr in seen]
        nproc = max(lr for lr in locals_ if lr is not None) + 1
    layout = {
        "local_rank": local,
        "nproc_per_node": nproc,
        "nnodes": max(world // nproc, 1),
        "node_rank": rank // nproc,
    }
    _layout = (group, layout)
    return layout


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


def initialize(
    backend: str | None = None,
    timeout: float | timedelta | None = None,
    init_method: str | None = None,
    world_size: int | None = None,
    rank: int | None = None,
    **kwargs: Any,
) -> None:
    """Create the process group described by the environment (``torchrun`` sets it).

    With a ``backend`` this is Ignite's ``idist.initialize``: ``RANK``, ``LOCAL_RANK`` and
    ``WORLD_SIZE`` come from the environment (all three or none: none means a group of one
    process), ``MASTER_ADDR`` / ``MASTER_PORT`` default to ``127.0.0.1`` / ``15000``, and
    ``finalize()`` puts the environment back. Without a ``backend`` (miniengine's addition)
    it does nothing unless a launcher set ``WORLD_SIZE`` and no group exists yet, so a script
    may call it unconditionally; the backend is then NCCL with CUDA, else gloo.

    Args:
        backend: "gloo", "nccl" or "mpi"; None: see above.
        timeout: how long a collective waits for the other ranks before failing, as a
            ``timedelta`` or in seconds (torch's default, 10 to 30 minutes, if None).
        init_method: as ``torch.distributed.init_process_group`` (default ``"env://"``);
            "tcp://..." is refused (it hangs), use MASTER_ADDR / MASTER_PORT.
        world_size: the number of processes, with an ``init_method`` other than "env://".
        rank: this process's rank, with an ``init_method`` other than "env://".
        kwargs: passed on to ``torch.distributed.init_process_group``.

    Example:
        >>> initialize()  # a plain `python` run: still one process
        >>> get_world_size()
        1
    """
    if backend is None:
        if "WORLD_SIZE" not in os.environ or _running():
            return
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend not in available_backends():
        raise ValueError(f"Backend should be one of '{available_backends()}', got {backend!r}")
    if _running():
        raise RuntimeError(
            "Can not create new distributed process group if default one is already initialized"
        )
    if init_method is None:
        if world_size is not None or rank is not None:
            raise ValueError(
                "Arguments rank and world_size should be None if no init_method is provided"
            )
    elif (world_size is None) != (rank is None):
        raise ValueError(
            f"Both rank and world_size should be provided, but given {rank} and {world_size}"
        )
    if init_method is not None and init_method.startswith("tcp://"):
        raise ValueError(_tcp_hangs(init_method))
    if backend == "nccl" and not torch.cuda.is_available():
        raise RuntimeError("Nccl backend is required but no cuda capable devices")
    _set_env(rank, world_size)
    init_method = init_method or "env://"
    if "env" not in init_method:
        kwargs.update(world_size=int(os.environ["WORLD_SIZE"]), rank=int(os.environ["RANK"]))
    if timeout is not None:
        kwargs["timeout"] = (
            timeout if isinstance(timeout, timedelta) else timedelta(seconds=timeout)
        )
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    try:
        dist.init_process_group(backend, init_method=init_method, **kwargs)
    except BaseException:
        _restore_env()
        raise
    sync()


def _tcp_hangs(init_method: str) -> str:
    return (
        f"TCP initialization via init_method='{init_method}' will hang. To fix this, please "
        "configure MASTER_ADDR and MASTER_PORT in the environment and use 'env://' (or omit "
        "init_method)."
    )


_ENV_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
_env_added: list[str] = []  # what initialize() put into the environment, for finalize()


def _set_env(rank: int | None, world_size: int | None) -> None:
    """Fill in what ``env://`` needs, as Ignite does."""
    given = [name for name in _ENV_VARS if name in os.environ]
    if given and len(given) != len(_ENV_VARS):
        raise RuntimeError(
            f"PyTorch distributed configuration should define env variables '{list(_ENV_VARS)}'"
            f", got only {given}"
        )
    defaults = {
        "RANK": str(rank if rank is not None else 0),
        "WORLD_SIZE": str(world_size if world_size is not None else 1),
        "LOCAL_RANK": "0",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": "15000",
    }
    for name, value in defaults.items():
        if name not in os.environ:
            os.environ[name] = value
            _env_added.append(name)


def _restore_env() -> None:
    while _env_added:
        os.environ.pop(_env_added.pop(), None)


def finalize() -> None:
    """Leave the process group (nothing to do without one) and undo ``initialize``'s env changes.

    Example:
        >>> finalize()
    """
    global _layout
    if _running():
        dist.destroy_process_group()
    _layout = None
    _restore_env()


def spawn(
    backend: str,
    fn: Callable[..., Any],
    args: tuple,
    kwargs_dict: dict[str, Any] | None = None,
    nproc_per_node: int = 1,
    **kwargs: Any,
) -> None:
    """Start ``nproc_per_node`` processes here, each in the process group, calling
    ``fn(local_rank, *args, **kwargs_dict)``; return when all have finished.

    What ``torchrun`` does from the command line, from Python (Ignite's ``idist.spawn``): each
    process gets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``, joins the group with
    ``initialize``, runs ``fn`` and leaves with ``finalize``. An exception in one process is
    raised here (``torch.multiprocessing.ProcessRaisedException``) after the others are stopped.

    Args:
        backend: ``"gloo"`` or ``"nccl"``.
        fn: a function defined at a module's top level (processes are started with "spawn":
            they import it anew).
        args: its positional arguments after the local rank.
        kwargs_dict: its keyword arguments.
        nproc_per_node: processes to start on this machine.
        **kwargs: ``nnodes`` (1), ``node_rank`` (0), ``master_addr`` ("127.0.0.1") and
            ``master_port`` (2222) for ``env://``, or ``init_method`` (``"file://..."``);
            ``timeout`` for ``initialize``; ``start_method`` ("spawn"; "fork" in a notebook),
            ``join`` (True) and ``daemon`` (False) for ``torch.multiprocessing``.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:  # each process prints "<rank> hi"
        ...     spawn("gloo", print, ("hi",), nproc_per_node=2, init_method=f"file://{d}/meet")
    """
    if backend not in available_backends():
        raise ValueError(f"Backend should be one of '{available_backends()}', got {backend!r}")
    nnodes, node_rank = kwargs.pop("nnodes", 1), kwargs.pop("node_rank", 0)
    master_addr, master_port = kwargs.pop("master_addr", None), kwargs.pop("master_port", None)
    init_method = kwargs.pop("init_method", None)
    if init_method in (None, "env://"):
        init_method = "env://"
        master_addr = master_addr or os.environ.get("MASTER_ADDR", "127.0.0.1")
        master_port = master_port or int(os.environ.get("MASTER_PORT", 2222))
    elif master_addr is not None or master_port is not None:
        raise ValueError(
            "master_addr and master_port should be None if init_method is provided other "
            "then 'env://'"
        )
    # A notebook's functions cannot be imported by a fresh process: fork there, as Ignite does.
    in_notebook = "__IPYTHON__" in vars(builtins)
    start_method = kwargs.pop("start_method", "fork" if in_notebook else "spawn")
    join, daemon = kwargs.pop("join", True), kwargs.pop("daemon", False)
    place = (nnodes * nproc_per_node, nproc_per_node * node_rank, master_addr, master_port)
    torch.multiprocessing.start_processes(
        _spawned,
        args=(backend, fn, args, kwargs_dict or {}, place, init_method, kwargs),
        nprocs=nproc_per_node,
        join=join,
        daemon=daemon,
        start_method=start_method,
    )


def _spawned(
    local_rank: int,
    backend: str,
    fn: Callable[..., Any],
    args: tuple,
    kwargs_dict: dict[str, Any],
    place: tuple[int, int, str | None, int | None],
    init_method: str,
    init_kwargs: dict[str, Any],
) -> None:
    """A process started by ``spawn``."""
    world_size, first_rank, master_addr, master_port = place
    rank, saved = first_rank + local_rank, dict(os.environ)
    os.environ.update(LOCAL_RANK=str(local_rank), RANK=str(rank), WORLD_SIZE=str(world_size))
    if init_method == "env://":
        os.environ.update(MASTER_ADDR=str(master_addr), MASTER_PORT=str(master_port))
        initialize(backend, **init_kwargs)
    else:
        initialize(
            backend, init_method=init_method, world_size=world_size, rank=rank, **init_kwargs
        )
    try:
        fn(local_rank, *args, **kwargs_dict)
    finally:
        finalize()
        os.environ.clear()
        os.environ.update(saved)


def sync(temporary: bool = False) -> None:
    """Take note of a process group created or destroyed by hand (``dist.init_process_group``).

    The helpers read ``torch.distributed`` live, so only the node layout (processes per node,
    node rank) is recomputed here; every rank must call it, as it may need a collective.

    Args:
        temporary: accepted for Ignite's signature; unused.

    Example:
        >>> sync()
        >>> get_nnodes()
        1
    """
    global _layout
    _layout = None
    _node_layout()


def barrier() -> None:
    """Wait until every process gets here.

    Example:
        >>> barrier()  # one process: returns at once
    """
    if _running():
        dist.barrier()


_OPS = {"SUM": "SUM", "PRODUCT": "PRODUCT", "MIN": "MIN", "MAX": "MAX", "AND": "BAND", "OR": "BOR"}


def new_group(ranks: list[int], **kwargs: Any) -> Any:
    """A process group of some of the ranks, for the ``group=`` of the collectives.

    As ``torch.distributed.new_group``, every rank of the run must call it. In one process
    the list itself comes back.

    Args:
        ranks: the ranks in the group.
        kwargs: passed on to ``torch.distributed.new_group``.

    Example:
        >>> new_group([0])
        [0]
    """
    if not (isinstance(ranks, list) and all(isinstance(r, int) for r in ranks)):
        raise ValueError(f"Argument ranks should be list of int, got {ranks!r}")
    return dist.new_group(ranks=ranks, **kwargs) if _running() else ranks


def _group(group: Any) -> Any:
    """The process group meant by ``group=``: None (everyone), a group, or a list of ranks."""
    if group is None or isinstance(group, dist.ProcessGroup):
        return group
    if group is dist.GroupMember.NON_GROUP_MEMBER:  # what new_group gives ranks outside it
        return group
    if isinstance(group, list) and all(isinstance(r, int) for r in group):
        return new_group(group)
    raise ValueError(f"Argument group should be list of int or ProcessGroup, got {group!r}")


def _outside(group: Any) -> bool:
    return group is not None and dist.get_rank(group) < 0


def all_reduce(
    tensor: torch.Tensor | float, op: str = "SUM", group: Any = None
) -> torch.Tensor | float:
    """Combine a tensor or number over all processes; every process gets the result.

    A tensor on this process's device is reduced in place (and returned); a number gives a
    number. In one process, or on a rank outside ``group``, the input comes back as it is.

    Args:
        tensor: a tensor (same shape on every rank) or a number.
        op: "SUM", "PRODUCT", "MIN", "MAX", "AND" or "OR".
        group: only these ranks (a list of ranks or a ``new_group``); default all.

    Example:
        >>> all_reduce(torch.tensor([1, 2]), op="MAX")
        tensor([1, 2])
    """
    if op not in _OPS:
        raise ValueError(f"Unsupported reduction operation: {op!r}, should be one of {list(_OPS)}")
    if not isinstance(tensor, (torch.Tensor, Number)):
        raise TypeError(
            f"Unhandled input type {type(tensor)}: all_reduce takes a tensor or a number"
        )
    if not _running():
        return tensor
    group = _group(group)
    if _outside(group):
        return tensor
    where = device()
    reduce_op = getattr(dist.ReduceOp, _OPS[op])
    if isinstance(tensor, torch.Tensor):
        t = tensor.to(where)
        dist.all_reduce(t, op=reduce_op, group=group)
        return t.to(tensor.device)
    dtype = torch.float64 if isinstance(tensor, float) else None
    t = torch.tensor(tensor, device=where, dtype=dtype)
    dist.all_reduce(t, op=reduce_op, group=group)
    return t.item()


def all_gather(tensor: torch.Tensor | Any, group: Any = None) -> torch.Tensor | list[Any]:
    """Collect a value from every process, in rank order.

    A tensor (same shape on every rank) gives one tensor, concatenated along dim 0 (0-d tensors
    are stacked); anything else (numbers, strings, picklable objects) gives a list. In one process
    (or on a rank outside ``group``) a tensor comes back as it is, anything else as a one-item
    list (as it is).

    Args:
        tensor: the value of this process.
        group: only these ranks (a list of ranks or a ``new_group``); default all.

    Example:
        >>> all_gather(torch.tensor([1, 2])), all_gather("only me")
        (tensor([1, 2]), ['only me'])
    """
    if not _running():
        return tensor if isinstance(tensor, torch.Tensor) else [tensor]
    group = _group(group)
    if _outside(group):
        return tensor
    size = dist.get_world_size(group)
    if isinstance(tensor, torch.Tensor):
        t = tensor.to(device())
        t = t.reshape(1) if t.ndim == 0 else t.contiguous()
        parts = [torch.empty_like(t) for _ in range(size)]
        dist.all_gather(parts, t, group=group)
        return torch.cat(parts).to(tensor.device)
    values: list[Any] = [None] * size
    dist.all_gather_object(values, tensor, group=group)
    return values


def all_gather_tensors_with_shapes(
    tensor: torch.Tensor, shapes: Sequence[Sequence[int]], group: Any = None
) -> list[torch.Tensor]:
    """Collect tensors whose shapes differ between ranks (same number of dimensions).

    Each rank's tensor is padded to the largest shape, gathered, and cut back to
    ``shapes[rank]``: one tensor per rank, in rank order. Faster than ``all_gather`` of
    objects, but every rank must know all the shapes beforehand.

    Args:
        tensor: this rank's tensor.
        shapes: the shape of every rank's tensor, in rank order.
        group: only these ranks (a list of ranks or a ``new_group``); default all.

    Example:
        >>> all_gather_tensors_with_shapes(torch.ones(2, 3), [[2, 3]])
        [tensor([[1., 1., 1.],
                [1., 1., 1.]])]
    """
    if _running():
        group = _group(group)
        if _outside(group):
            return [tensor]
    largest = [max(shape[d] for shape in shapes) for d in range(tensor.ndim)]
    # F.pad takes (before, after) pairs from the last dimension to the first
    pad = [p for d in reversed(range(tensor.ndim)) for p in (0, largest[d] - tensor.shape[d])]
    gathered = all_gather(nn.functional.pad(tensor, pad)[None], group=group)
    if len(shapes) != len(gathered):
        raise ValueError(
            f"Argument shapes should give one shape per rank ({len(gathered)}), got {shapes}"
        )
    return [
        part[tuple(slice(0, n) for n in shape)]
        for part, shape in zip(gathered, shapes, strict=True)
    ]


def broadcast(
    tensor: torch.Tensor | float | str | Path | None, src: int = 0, safe_mode: bool = False
) -> torch.Tensor | float | str | Path:
    """Send rank ``src``'s tensor, number, string or path to every process; all return it.

    Without ``safe_mode`` the other ranks pass a value of the same kind (for a tensor: same
    shape and dtype, it is filled in place). With ``safe_mode=True`` they may pass None or
    anything else, at the cost of one more collective. In one process the value comes back.

    Args:
        tensor: a tensor, number, str or ``pathlib.Path`` (None on non-source ranks with
            ``safe_mode``).
        src: the rank that sends.
        safe_mode: let the other ranks pass anything.

    Example:
        >>> broadcast("config.yaml"), broadcast(torch.tensor([1, 2]), src=0)
        ('config.yaml', tensor([1, 2]))
    """
    if not (tensor is None or isinstance(tensor, (torch.Tensor, Number, str, Path))):
        raise TypeError(
            f"Unhandled input type {type(tensor)}: broadcast takes a tensor, a number, "
            "a str or a pathlib.Path"
        )
    if not _running():
        if tensor is None:
            raise ValueError("Argument tensor should not be None")
        return tensor
    rank = get_rank()
    if tensor is None:
        if rank == src:
            raise ValueError("Source data can not be None")
        if not safe_mode:
            raise ValueError("Argument safe_mode should be True if None is passed for non src rank")
    if not isinstance(tensor, torch.Tensor) or safe_mode:
        # numbers, strings and paths travel pickled, keeping their exact type and value; with
        # safe_mode the source's tensor travels that way too (shape and dtype included)
        box = [tensor if rank == src else None]
        dist.broadcast_object_list(box, src=src, device=_object_device())
        value: Any = box[0]
        return value.to(device()) if isinstance(value, torch.Tensor) else value
    t = tensor.to(device())
    dist.broadcast(t, src=src)
    return t.to(tensor.device)


def _object_device() -> torch.device | None:
    # NCCL moves pickled objects through the GPU of this rank
    return device() if backend() == "nccl" else None


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


@contextmanager
def one_rank_first(rank: int = 0, local: bool = False) -> Iterator[None]:
    """Context manager: rank ``rank`` runs the block first, the other ranks after it is done.

    For work that one process should do before the others use its result, e.g. downloading
    a dataset or building a cache.

    Args:
        rank: the process that goes first.
        local: ``rank`` is a local rank: one process per machine goes first.

    Example:
        >>> with one_rank_first():
        ...     data = list(range(3))  # e.g. download it
        >>> data
        [0, 1, 2]
    """
    current = get_local_rank() if local else get_rank()
    size = get_nproc_per_node() if local else get_world_size()
    if not 0 <= rank < size:
        raise ValueError(f"rank should be between 0 and {size - 1}, but given {rank}")
    if current != rank:
        barrier()
    yield
    if current == rank:
        barrier()


def show_config() -> None:
    """Log the distributed configuration (backend, device, ranks, nodes) at INFO level.

    The lines go to the ``miniengine.distributed`` logger, set up by ``setup_logger``: on
    stderr, from rank 0 only.

    Example:
        >>> show_config()  # "... miniengine.distributed.utils INFO: distributed configuration: ..."
    """
    from miniengine.utils import setup_logger

    logger = setup_logger("miniengine.distributed.utils")  # Ignite's path, as for Parallel
    for label, value in [
        ("distributed configuration", model_name()),
        ("backend", backend()),
        ("device", device().type),
        ("hostname", hostname()),
        ("world size", get_world_size()),
        ("rank", get_rank()),
        ("local rank", get_local_rank()),
        ("num processes per_node", get_nproc_per_node()),
        ("num nodes", get_nnodes()),
        ("node rank", get_node_rank()),
    ]:
        logger.info(f"{label}: {value}")


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
    with repeated samples to a multiple of the world size); a ``sampler`` of your own is
    wrapped in a ``DistributedProxySampler``. An ``IterableDataset`` is not split: it must
    yield different data on each rank itself.

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
        return _loader(dataset, kwargs)
    if kwargs.get("batch_size", 1) >= world:
        kwargs["batch_size"] //= world
    per_node = get_nproc_per_node()
    if kwargs.get("num_workers", 0) >= per_node:
        kwargs["num_workers"] = -(-kwargs["num_workers"] // per_node)
    sampler = kwargs.get("sampler")
    if "batch_sampler" in kwargs:
        warnings.warn(
            "Found batch_sampler in provided kwargs. Please, make sure that it is compatible "
            "with distributed configuration (each rank its own data)",
            stacklevel=2,
        )
    elif isinstance(dataset, IterableDataset):
        _auto_logger("auto_dataloader").info(
            "Found iterable dataset, dataloader will be created without any distributed "
            "sampling. Please, make sure that the dataset itself produces different data on "
            "different ranks."
        )
    elif isinstance(sampler, DistributedSampler):
        if sampler.rank != get_rank():
            warnings.warn(
                f"Found distributed sampler with rank={sampler.rank}, but process rank is "
                f"{get_rank()}",
                stacklevel=2,
            )
        if sampler.num_replicas != world:
            warnings.warn(
                f"Found distributed sampler with num_replicas={sampler.num_replicas}, but world "
                f"size is {world}",
                stacklevel=2,
            )
    elif sampler is not None:
        kwargs["sampler"] = DistributedProxySampler(sampler, world, get_rank())
    else:
        shuffle = kwargs.pop("shuffle", True)
        kwargs["sampler"] = DistributedSampler(dataset, world, get_rank(), shuffle=shuffle)
    return _loader(dataset, kwargs)


def _auto_logger(name: str) -> Any:
    from miniengine.utils import setup_logger  # utils imports this module

    # Ignite's logger names (ignite.distributed.auto.<function>), so that what was set up for
    # Ignite's log lines applies to these.
    return setup_logger(f"miniengine.distributed.auto.{name}")


def _loader(dataset: Dataset, kwargs: dict[str, Any]) -> DataLoader:
    _auto_logger("auto_dataloader").info(
        f"Use data loader kwargs for dataset '{repr(dataset)[:20].strip()}': \n\t{kwargs}"
    )
    return DataLoader(dataset, **kwargs)


class DistributedProxySampler(DistributedSampler):
    """Give each rank its part of what any sampler draws (e.g. a ``WeightedRandomSampler``).

    Each epoch the wrapped sampler is drawn from with the seed ``epoch`` (so every rank draws
    the same indices; the global random state is left as it was), repeated up to a multiple
    of the number of ranks, and rank ``r`` takes every ``num_replicas``-th index from ``r``.
    The engine calls ``set_epoch`` for you.

    Args:
        sampler: a sampler with a length (not a ``DistributedSampler``).
        num_replicas: the number of ranks (default: the world size).
        rank: this rank (default: this process's).

    Example:
        >>> from torch.utils.data import SequentialSampler
        >>> [list(DistributedProxySampler(SequentialSampler(range(5)), 2, r)) for r in (0, 1)]
        [[0, 2, 4], [1, 3, 0]]
    """

    def __init__(
        self, sampler: Sampler, num_replicas: int | None = None, rank: int | None = None
    ) -> None:
        if not isinstance(sampler, Sampler):
            raise TypeError(
                f"Argument sampler should be instance of torch Sampler, but given: {type(sampler)}"
            )
        if isinstance(sampler, DistributedSampler):
            raise TypeError("Argument sampler must not be a distributed sampler already")
        if not hasattr(sampler, "__len__"):
            raise TypeError("Argument sampler should have length")
        num_replicas = get_world_size() if num_replicas is None else num_replicas
        rank = get_rank() if rank is None else rank
        super().__init__(sampler, num_replicas=num_replicas, rank=rank, shuffle=False)  # type: ignore[arg-type]
        self.sampler = sampler

    def __iter__(self) -> Iterator[Any]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.epoch)
            indices: list[Any] = []
            while len(indices) < self.total_size:
                indices += list(self.sampler)
        return iter(indices[self.rank : self.total_size : self.num_replicas])


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


class Parallel:
    """Ignite's launcher: ``with Parallel(backend, ...) as p: p.run(training, config)`` calls
    ``training(local_rank, config)`` in each process, with the process group set up (when a
    backend is given) and torn down afterwards.

    Without ``nproc_per_node`` it runs in this process: a plain ``python`` run, or one process
    of those ``torchrun`` started. With ``nproc_per_node`` (and a backend) ``run`` starts
    that many processes here with ``spawn``; ``nnodes``, ``node_rank``, ``master_addr`` and
    ``master_port`` place them among several machines, each started the same way.

    Args:
        backend: ``"gloo"``, ``"nccl"``, or None for one process without a process group.
        nproc_per_node: processes to start here (None: none, run in this one).
        nnodes: machines in all (default 1).
        node_rank: this machine's index, from 0 (required with ``nnodes > 1``).
        master_addr: rank 0's machine (required with ``nnodes > 1``, or ``init_method``).
        master_port: a free port there.
        init_method: passed to ``initialize`` (or to ``spawn``).
        **spawn_kwargs: more arguments of ``spawn`` (``timeout``, ``start_method``, ...).

    Example:
        >>> from miniengine import distributed as idist
        >>> def training(local_rank, message):
        ...     print(local_rank, idist.get_world_size(), message)
        >>> with idist.Parallel(backend=None) as parallel:
        ...     parallel.run(training, "hello")
        0 1 hello
    """

    def __init__(
        self,
        backend: str | None = None,
        nproc_per_node: int | None = None,
        nnodes: int | None = None,
        node_rank: int | None = None,
        master_addr: str | None = None,
        master_port: int | None = None,
        init_method: str | None = None,
        **spawn_kwargs: Any,
    ) -> None:
        if backend is not None and backend not in available_backends():
            raise ValueError(
                f"Unknown backend '{backend}'. Available backends: {available_backends()}"
            )
        placing: dict[str, Any] = dict(nproc_per_node=nproc_per_node, nnodes=nnodes)
        placing.update(node_rank=node_rank)
        placing.update(master_addr=master_addr, master_port=master_port)
        for name, value in placing.items():
            if value is not None and backend is None:
                raise ValueError(
                    f"If backend is None, argument '{name}' should be also None, but given {value}"
                )
        if init_method is not None and init_method.startswith("tcp://"):
            raise ValueError(_tcp_hangs(init_method))
        self.backend, self.init_method = backend, init_method
        self._spawn: dict[str, Any] | None = None
        if backend is not None and nproc_per_node is not None:
            self._spawn = self._spawn_args(placing, init_method, spawn_kwargs)

    @staticmethod
    def _spawn_args(placing: dict[str, Any], init_method: Any, more: dict) -> dict[str, Any]:
        """Check where the processes go, with Ignite's messages; ``spawn``'s arguments."""
        nproc, nnodes, node_rank = (placing[k] for k in ("nproc_per_node", "nnodes", "node_rank"))
        if nproc < 1:
            raise ValueError(f"Argument nproc_per_node should positive, but given {nproc}")
        nnodes = 1 if nnodes is None else nnodes
        if nnodes < 1:
            raise ValueError(f"Argument nnodes should positive, but given {nnodes}")
        if node_rank is None and nnodes > 1:
            raise ValueError(
                "If number of nodes larger than one, arguments node_rank should be given"
            )
        node_rank = node_rank or 0
        if not 0 <= node_rank < nnodes:
            raise ValueError(
                f"Argument node_rank should be between 0 and {nnodes - 1}, but given {node_rank}"
            )
        address = placing["master_addr"], placing["master_port"]
        if nnodes > 1 and None in address and init_method is None:
            raise ValueError(
                "If number of nodes larger than one, arguments master_addr and master_port or "
                f"init_method should be specified, but given master_addr={address[0]}, "
                f"master_port={address[1]} and init_method={init_method}."
            )
        args = {**placing, "nnodes": nnodes, "node_rank": node_rank, "init_method": init_method}
        return {k: v for k, v in {**args, **more}.items() if v is not None}

    def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``func(local_rank, *args, **kwargs)`` in each process.

        Args:
            func: the training function; its first argument is the local rank (with
                ``nproc_per_node``, a function defined at a module's top level).
            *args: its further positional arguments.
            **kwargs: its keyword arguments.
        """
        logger = self._get_logger()
        if self._spawn is not None and self.backend is not None:
            logger.info(f"Spawn function '{func}' in {self._spawn['nproc_per_node']} processes")
            spawn(self.backend, func, args=args, kwargs_dict=kwargs, **self._spawn)
        else:
            logger.info(f"- Run '{func}' in {get_world_size()} processes")
            func(get_local_rank(), *args, **kwargs)
        logger.info("End of run")

    def _get_logger(self) -> Any:
        from miniengine.utils import setup_logger  # utils imports this module

        # Ignite's path for this logger, so that what was set up for Ignite's lines applies.
        return setup_logger("miniengine.distributed.launcher.Parallel")

    def __enter__(self) -> Parallel:
        if self.backend is None:
            return self
        if self._spawn is None:
            initialize(self.backend, init_method=self.init_method)
            self._get_logger().info(f"Initialized processing group with backend: '{self.backend}'")
        else:
            self._get_logger().info(
                f"Initialized distributed launcher with backend: '{self.backend}'\n"
                "- Parameters to spawn processes: \n\t"
                + "\n\t".join(f"{k}: {v}" for k, v in self._spawn.items())
            )
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.backend is not None and self._spawn is None:
            self._get_logger().info(f"Finalized processing group with backend: '{self.backend}'")
            finalize()
