"""Ignite's ``ignite.engine.deterministic``: an engine whose dataflow is reproducible from a seed.

``DeterministicEngine`` draws ``state.seed`` when a run starts and re-seeds every generator
(``manual_seed(state.seed + iteration // len(data))``) each time it makes a data iterator, so
that an epoch's shuffling depends on the seed and the epoch only. A ``DataLoader`` gets a
``ReproducibleBatchSampler``, which draws a whole epoch's indices at once and can start at any
batch of them: a run restored from a state dict at an iteration sees the batches that the
saved run saw. ``state_dict()`` also saves the random generators (``rng_states``), restored
when a run resumes inside an epoch. miniengine's plain ``Engine`` resumes exactly without
re-seeding (docs/resume.md); this module is for code written against Ignite's classes.

Example:
    >>> import random
    >>> from miniengine.engine.deterministic import keep_random_state
    >>> @keep_random_state
    ... def draw():
    ...     random.random()
    >>> before = random.getstate()
    >>> draw()
    >>> random.getstate() == before
    True
"""

from __future__ import annotations

import functools
import random
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader
from torch.utils.data.dataloader import _DatasetKind
from torch.utils.data.sampler import BatchSampler

from miniengine._missing import missing_name
from miniengine.engine.engine import Engine, _length
from miniengine.engine.events import Events
from miniengine.utils import manual_seed

__all__ = [
    "DeterministicEngine",
    "ReproducibleBatchSampler",
    "keep_random_state",
    "update_dataloader",
]


def update_dataloader(dataloader: DataLoader, new_batch_sampler: BatchSampler) -> DataLoader:
    """Make a copy of ``dataloader`` (same class, same public settings) that takes its
    batches of indices from ``new_batch_sampler``.

    Args:
        dataloader: the ``DataLoader`` to copy.
        new_batch_sampler: the batch sampler of the copy.

    Returns:
        The new ``DataLoader``.

    Example:
        >>> loader = DataLoader(list(range(6)), batch_size=2)
        >>> sampler = BatchSampler(range(6)[::-1], batch_size=3, drop_last=False)
        >>> [b.tolist() for b in update_dataloader(loader, sampler)]
        [[5, 4, 3], [2, 1, 0]]
    """
    # The constructor's arguments are the loader's public attributes, but for those that
    # describe batching: a batch sampler excludes them (and dataset_kind is no argument).
    batching = {"batch_size", "sampler", "drop_last", "batch_sampler", "dataset_kind"}
    kwargs = {
        name: getattr(dataloader, name)
        for name in vars(dataloader)
        if not name.startswith("_") and name not in batching
    }
    return type(dataloader)(**kwargs, batch_sampler=new_batch_sampler)


class ReproducibleBatchSampler(BatchSampler):
    """A batch sampler that draws all of an epoch's batches from ``batch_sampler`` when
    iteration starts, and can start at any of them.

    The draw happens at the first batch asked for, so that it depends only on the random
    state at that moment: seed before iterating and the batches are the same every time.

    Args:
        batch_sampler: a ``torch.utils.data.BatchSampler`` (e.g. a ``DataLoader``'s).
        start_iteration: the batch to start at, next time only (None or 0: the first).

    Example:
        >>> loader = DataLoader(list(range(8)), batch_size=2, shuffle=True)
        >>> loader = update_dataloader(loader, ReproducibleBatchSampler(loader.batch_sampler))
        >>> _ = torch.manual_seed(5); epoch = [b.tolist() for b in loader]
        >>> loader.batch_sampler.start_iteration = 3
        >>> _ = torch.manual_seed(5); [b.tolist() for b in loader] == epoch[3:]
        True
    """

    def __init__(self, batch_sampler: BatchSampler, start_iteration: int | None = None) -> None:
        if not isinstance(batch_sampler, BatchSampler):
            raise TypeError(
                "Argument batch_sampler should be torch.utils.data.sampler.BatchSampler, "
                f"got {type(batch_sampler).__name__}"
            )
        # No BatchSampler.__init__: this sampler has no batch size of its own.
        self.batch_sampler = batch_sampler
        self.sampler = batch_sampler.sampler
        self.start_iteration = start_iteration
        self.batch_indices: list = []

    def setup_batch_indices(self) -> None:
        """Draw this epoch's batches of indices, and drop those before ``start_iteration``
        (which is then reset to None)."""
        self.batch_indices = list(self.batch_sampler)
        if self.start_iteration is not None:
            self.batch_indices = self.batch_indices[self.start_iteration :]
            self.start_iteration = None

    def __iter__(self) -> Iterator[list[int]]:
        # A generator: nothing is drawn before the first batch is asked for.
        self.setup_batch_indices()
        yield from self.batch_indices

    def __len__(self) -> int:
        return len(self.batch_sampler)


# Ignite's layout of the saved generators: [random, torch CPU, numpy (if installed)], so that
# state dicts move between the two libraries.
def _get_rng_states() -> list[Any]:
    states: list[Any] = [random.getstate(), torch.get_rng_state()]
    try:
        import numpy as np
    except ImportError:
        return states
    return [*states, np.random.get_state()]


def _set_rng_states(states: list[Any]) -> None:
    random.setstate(states[0])
    torch.set_rng_state(states[1].cpu())  # a state saved from, or mapped to, a GPU tensor
    if len(states) > 2:
        import numpy as np

        np.random.set_state(states[2])


def keep_random_state(func: Callable) -> Callable:
    """Wrap ``func`` so that the random generators (Python, NumPy, torch, CUDA) are as before
    the call once it returns, or raises; it returns None, as Ignite's wrapper does.

    Args:
        func: the function to wrap.

    Example:
        >>> state = torch.get_rng_state()
        >>> keep_random_state(torch.rand)(3)
        >>> torch.equal(torch.get_rng_state(), state)
        True
    """
    from miniengine.handlers.checkpoint import RNGState  # the one home of the RNG save/restore

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        states = RNGState().state_dict()
        try:
            func(*args, **kwargs)
        finally:
            RNGState().load_state_dict(states)

    return wrapper


class DeterministicEngine(Engine):
    """An ``Engine`` whose batches and randomness depend only on the seed and the position
    in the run, so that a run restored from a state dict repeats the saved run's dataflow.

    What it adds to ``Engine``::

        STARTED: state.seed = a number drawn from torch's generator; on CUDA, deterministic
                 algorithms and no cuDNN benchmarking
        each new data iterator (first epoch, resume, DATALOADER_STOP_ITERATION,
        TERMINATE_SINGLE_EPOCH): manual_seed(state.seed + iteration // len(data))
        resume at iteration i: a DataLoader starts at batch i % len(data) of the indices
                 drawn with that seed; other data is read and thrown away up to there;
                 inside an epoch, the generators saved in state.rng_states are restored

    A ``DataLoader`` over a map-style dataset has its batch sampler replaced by a
    ``ReproducibleBatchSampler`` (``state.dataloader`` is the new loader). ``state_dict()``
    holds ``rng_states`` (a user key, required by ``load_state_dict``; None is allowed).
    ``data=None`` is refused. Where miniengine's ``Engine`` would skip a different number of
    batches (a state dict whose ``epoch_length`` is not ``len(data)``), this one follows
    Ignite: the data position is ``iteration % len(data)``.

    Args:
        process_function: called as ``process_function(engine, batch)``.

    Example:
        >>> loader = DataLoader(list(range(6)), batch_size=2, shuffle=True)
        >>> engine = DeterministicEngine(lambda e, b: b.tolist())
        >>> seen = []
        >>> def keep(engine):
        ...     seen.append(engine.state.output)
        >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED, keep)
        >>> _ = torch.manual_seed(0); _ = engine.run(loader, max_epochs=2)
        >>> saved = seen[:]; seen.clear()
        >>> saved_state = {"iteration": 4, "epoch_length": 3, "max_epochs": 2, "rng_states": None}
        >>> engine.load_state_dict(saved_state)
        >>> _ = torch.manual_seed(0); _ = engine.run(loader)
        >>> seen == saved[4:]
        True
    """

    def __init__(self, process_function: Callable[[Engine, Any], Any]) -> None:
        super().__init__(process_function)
        self.state_dict_user_keys.append("rng_states")
        if not hasattr(self.state, "rng_states"):
            self.state.rng_states = None  # type: ignore[attr-defined]
        self._dataloader_len: int | None = None
        # First among STARTED handlers, as in Ignite: the seed is drawn before user handlers.
        self.add_event_handler(Events.STARTED, self._init_run)
        # The engine makes a new data iterator right after these two: seed it first.
        self.add_event_handler(
            Events.DATALOADER_STOP_ITERATION | Events.TERMINATE_SINGLE_EPOCH, self._setup_seed
        )

    def state_dict(self) -> OrderedDict:
        """``Engine.state_dict()`` with ``rng_states``: the random generators as they are now
        (Python's, torch's CPU one, numpy's), in Ignite's layout.

        Example:
            >>> sd = DeterministicEngine(lambda e, b: None).state_dict()
            >>> sorted(sd), len(sd["rng_states"])
            (['epoch_length', 'iteration', 'max_epochs', 'rng_states'], 3)
        """
        state_dict = super().state_dict()
        # This engine finds its place in the data from the iteration (iteration % len(data)),
        # as Ignite's does: the core's data_position would be unused, so it is not written.
        state_dict.pop("data_position", None)
        state_dict["rng_states"] = _get_rng_states()
        return state_dict

    def load_state_dict(self, state_dict: Mapping) -> None:
        """``Engine.load_state_dict``, but for where the data resumes: at batch
        ``iteration % len(data)``, as in Ignite (``data_position`` is ignored).

        Args:
            state_dict: as for ``Engine.load_state_dict``, with ``rng_states`` (None allowed).

        Example:
            >>> engine = DeterministicEngine(lambda e, b: print(b))
            >>> sd = {"iteration": 5, "epoch_length": 4, "max_epochs": 2, "rng_states": None}
            >>> engine.load_state_dict(sd)
            >>> _ = engine.run([10, 20, 30])  # the epoch's 3 last iterations: 5 % 3 = 2 first
            30
            10
            20
        """
        super().load_state_dict(state_dict)
        # The core would skip (and check against len(data)) iteration % epoch_length batches;
        # _new_data_iter places the data itself.
        self._resume = (0, self._resume[1]) if self._resume else None

    def _init_run(self) -> None:
        self.state.seed = int(torch.randint(0, int(1e9), (1,)).item())
        if torch.cuda.is_available():
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False

    def _setup_seed(
        self, _: Any = None, iter_counter: int | None = None, iteration: int | None = None
    ) -> None:
        # After terminate_epoch() the epoch was iter_counter iterations long: that is the
        # period then. Otherwise it is the data's length (1 when unknown).
        if iter_counter is None:
            period = self._dataloader_len or 1
        elif iter_counter > 0:
            period = iter_counter
        else:
            raise ValueError(f"iter_counter should be positive value, got {iter_counter}")
        if iteration is None:
            iteration = self.state.iteration
        manual_seed(self.state.seed + iteration // period)  # type: ignore[operator]

    def _new_data_iter(self, skip: int = 0) -> Iterator[Any]:
        if self._data_iter is not None:  # a restart inside the run: the handlers have seeded
            return super()._new_data_iter(skip)
        s = self.state
        if s.dataloader is None:
            raise ValueError(
                "Deterministic engine does not support the option of data=None. Please, "
                "provide data as iterable"
            )
        self._dataloader_len = _length(s.dataloader)
        if isinstance(s.dataloader, DataLoader):
            self._make_reproducible(s.dataloader)
        data, iteration = s.dataloader, s.iteration
        batches = _length(getattr(data, "batch_sampler", None))
        if isinstance(data, DataLoader) and batches is not None:
            start = iteration % batches
            self._setup_seed()
            if start:
                data.batch_sampler.start_iteration = start  # type: ignore[union-attr]
            self._data_iter, self._iter_origin = iter(data), iteration - start
        else:
            # Ignite seeds with state.seed itself here, then reads up to the position.
            self._setup_seed(iteration=0)
            position = iteration % self._dataloader_len if self._dataloader_len else iteration
            super()._new_data_iter(position)
        inside_epoch = bool(self._dataloader_len and iteration % self._dataloader_len)
        if inside_epoch and (states := getattr(s, "rng_states", None)) is not None:
            _set_rng_states(states)
            s.rng_states = None  # type: ignore[attr-defined]  # restored once only
        return self._data_iter  # type: ignore[return-value]

    def _make_reproducible(self, loader: DataLoader) -> None:
        # Only the batches of a map-style dataset are drawn by a sampler that can be replaced.
        if getattr(loader, "_dataset_kind", _DatasetKind.Map) != _DatasetKind.Map:
            return
        if hasattr(loader.sampler, "epoch") and self._dataloader_len not in (
            None, self.state.epoch_length
        ):  # fmt: skip
            warnings.warn(
                "When defined engine's epoch length is different of input dataloader length, "
                "distributed sampler indices can not be setup in a reproducible manner",
                stacklevel=4,
            )
        batch_sampler = loader.batch_sampler
        if batch_sampler is not None and not isinstance(batch_sampler, ReproducibleBatchSampler):
            new_sampler = ReproducibleBatchSampler(batch_sampler)  # type: ignore[arg-type]
            self.state.dataloader = update_dataloader(loader, new_sampler)


def __getattr__(name: str) -> Any:
    raise missing_name(__name__, name)
