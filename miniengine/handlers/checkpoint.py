"""Checkpoints: save objects with ``state_dict`` to disk, keep the best ``n_saved``, load them back.

``Checkpoint`` decides *when* a checkpoint is kept and *how it is named* (Ignite 0.5.5's names:
``{filename_prefix}_{name}_{global_step}_{score_name}={score}.pt``, each part present only when
set); a save handler such as ``DiskSaver`` decides *where* it goes. ``RNGState`` puts the global
random generators into a checkpoint, so that a run resumed mid-epoch continues bit for bit (see
``docs/resume.md``).

In a distributed run (``miniengine.distributed``), every rank calls ``Checkpoint`` (it keeps the
same list of files everywhere), but ``DiskSaver`` writes and removes files on ``save_on_rank``
only (rank 0 by default); ``load_objects`` loads on every rank.

Two deliberate differences from Ignite, both for crash safety: a new checkpoint is written
*before* the one it replaces is removed (Ignite removes first, so a crash in between left no
checkpoint), and ``DiskSaver`` fsyncs the file before the atomic rename.
"""

from __future__ import annotations

import contextlib
import inspect
import numbers
import os
import random
import stat
import tempfile
import warnings
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from miniengine import distributed as idist
from miniengine.engine import Engine, EventEnum, Events

__all__ = [
    "BaseSaveHandler",
    "Checkpoint",
    "CheckpointEvents",
    "DiskSaver",
    "ModelCheckpoint",
    "RNGState",
]


class CheckpointEvents(EventEnum):
    """Events fired by ``Checkpoint`` on the engine it is attached to.

    ``SAVED_CHECKPOINT`` fires after each checkpoint is written. It is registered on the engine at
    the first save; register it yourself (``engine.register_events(*CheckpointEvents)``) to attach
    handlers before that.

    Example:
        >>> CheckpointEvents.SAVED_CHECKPOINT.value
        'saved_checkpoint'
    """

    SAVED_CHECKPOINT = "saved_checkpoint"


class BaseSaveHandler(ABC):
    """Where checkpoints go: subclass it and implement ``__call__`` and ``remove``.

    ``Checkpoint`` calls ``remove`` only on instances of this class; a plain function used as a
    save handler keeps every file.

    Example:
        >>> class InMemory(BaseSaveHandler):
        ...     def __init__(self):
        ...         self.files = {}
        ...     def __call__(self, checkpoint, filename, metadata=None):
        ...         self.files[filename] = checkpoint
        ...     def remove(self, filename):
        ...         del self.files[filename]
        >>> saver = InMemory()
        >>> saver({"w": 1}, "a.pt"); saver.remove("a.pt"); saver.files
        {}
    """

    @abstractmethod
    def __call__(
        self,
        checkpoint: Mapping[str, Any],
        filename: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Store ``checkpoint`` under ``filename``.

        Args:
            checkpoint: the dictionary of state dicts to store.
            filename: the name chosen by ``Checkpoint``.
            metadata: ``basename`` (prefix and name), ``score_name`` and ``priority``.
        """

    @abstractmethod
    def remove(self, filename: str) -> None:
        """Delete the checkpoint stored under ``filename``.

        Args:
            filename: a name previously given to ``__call__``.
        """


class DiskSaver(BaseSaveHandler):
    """Save checkpoints as ``torch.save`` files in a directory, atomically by default.

    An atomic save writes a hidden temporary file in ``dirname``, flushes it to disk (fsync) and
    renames it over the target with ``os.replace``: readers see the old file or the new one, never
    a partial one. If serialization fails the temporary file is deleted; if the process is killed
    mid-write, a ``.<filename>.*.tmp`` file may remain (it never ends in ``.pt``).

    Args:
        dirname: directory for the checkpoint files (``~`` is expanded).
        atomic: write through a temporary file and rename; ``False`` writes the target directly.
        create_dir: create ``dirname`` (and parents) if missing.
        require_empty: refuse a directory that already holds ``.pt`` files.
        save_on_rank: the rank that writes (and creates ``dirname``) in a distributed run; the
            other ranks do nothing.
        kwargs: passed on to ``torch.save``.

    Example:
        >>> import tempfile, torch
        >>> with tempfile.TemporaryDirectory() as d:
        ...     saver = DiskSaver(d)
        ...     saver({"w": torch.ones(2)}, "ckpt.pt")
        ...     torch.load(saver.dirname / "ckpt.pt")["w"]
        tensor([1., 1.])
    """

    def __init__(
        self,
        dirname: str | Path,
        atomic: bool = True,
        create_dir: bool = True,
        require_empty: bool = True,
        save_on_rank: int = 0,
        **kwargs: Any,
    ) -> None:
        _check_rank(save_on_rank)
        self.dirname = Path(dirname).expanduser()
        self.save_on_rank = save_on_rank
        self._atomic = atomic
        self.kwargs = kwargs
        if idist.get_rank() != save_on_rank:
            return
        if create_dir:
            self.dirname.mkdir(parents=True, exist_ok=True)
        if not self.dirname.is_dir():
            raise ValueError(f"Directory path '{self.dirname}' is not found")
        if require_empty:
            found = sorted(f for f in os.listdir(self.dirname) if f.endswith(".pt"))
            if found:
                raise ValueError(
                    f"Files {found} with extension '.pt' are already present in the directory "
                    f"{self.dirname}. If you want to use this directory anyway, pass "
                    "`require_empty=False`."
                )

    def __call__(
        self,
        checkpoint: Mapping[str, Any],
        filename: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Write ``checkpoint`` to ``dirname / filename``.

        Args:
            checkpoint: the object to ``torch.save``.
            filename: the file name inside ``dirname``.
            metadata: ignored; part of the save handler protocol.
        """
        if idist.get_rank() != self.save_on_rank:
            return
        path = self.dirname / filename
        if not self._atomic:
            torch.save(checkpoint, path, **self.kwargs)
            return
        fd, tmp = tempfile.mkstemp(dir=self.dirname, prefix=f".{filename}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(checkpoint, f, **self.kwargs)
                f.flush()
                # without fsync, a power cut after the rename can leave an empty file behind it
                os.fsync(f.fileno())
            # mkstemp creates the file readable by its owner only; open() would not
            os.chmod(tmp, os.stat(tmp).st_mode | stat.S_IRGRP | stat.S_IROTH)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            raise
        if os.name == "posix":  # persist the rename itself; directories cannot be opened on Windows
            dir_fd = os.open(self.dirname, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def remove(self, filename: str) -> None:
        """Delete ``dirname / filename``.

        Args:
            filename: the file name inside ``dirname``.
        """
        if idist.get_rank() == self.save_on_rank:
            (self.dirname / filename).unlink()


def _check_rank(save_on_rank: int) -> None:
    world = idist.get_world_size()
    if not (isinstance(save_on_rank, int) and 0 <= save_on_rank < world):
        raise ValueError(
            f"Argument save_on_rank should be 0 to {world - 1} (the ranks of this run), "
            f"got {save_on_rank!r}"
        )


class Checkpoint:
    """Save ``to_save`` when called as a handler; keep the ``n_saved`` of highest priority.

    The priority is ``score_function(engine)`` if given, else the global step (the engine's
    iteration, or ``global_step_transform(engine, event)``). A new checkpoint is kept while fewer
    than ``n_saved`` exist, or when its priority beats the lowest kept one (ties win only with
    ``greater_or_equal``); that lowest one is then removed. A checkpoint whose file name is
    already kept overwrites it. The file name is ``{filename_prefix}_{name}_{suffix}.pt``, where
    ``name`` is the single key of ``to_save`` or ``"checkpoint"``, and ``suffix`` is the global
    step, ``{score_name}={score}`` or both, joined by ``_``. Integer scores appear as is, other
    numbers as ``{score:.4f}``. Default: ``checkpoint_<iteration>.pt``.

    Args:
        to_save: name -> object with ``state_dict`` (model, optimizer, scheduler, engine,
            ``RNGState``, ...); values may also be lists or dicts of such objects.
        save_handler: a ``BaseSaveHandler``, a directory (str or Path, wrapped in a
            ``DiskSaver(dirname, create_dir=True)``), or a function ``(checkpoint, filename)`` or
            ``(checkpoint, filename, metadata)``.
        filename_prefix: prefix of the file names.
        score_function: ``engine -> number``; the checkpoints with the highest scores are kept.
        score_name: name of the score in the file name; alone, it scores by
            ``engine.state.metrics[score_name]``.
        n_saved: how many checkpoints to keep; ``None`` keeps all.
        global_step_transform: ``(engine, event_name) -> int``, the step put in the file name.
        filename_pattern: a ``str.format`` pattern with ``{filename_prefix}``, ``{name}``,
            ``{score}``, ``{score_name}``, ``{global_step}`` and ``{ext}``, replacing the default.
        include_self: also store this handler's ``state_dict`` under the key ``"checkpointer"``.
        greater_or_equal: a score equal to the lowest kept one also replaces it.
        save_on_rank: the rank whose ``DiskSaver`` writes, when ``save_handler`` is a directory.
            A save handler of your own is called on every rank, as in Ignite.

    Example:
        >>> import os, tempfile, torch
        >>> from miniengine.engine import Engine, Events
        >>> model = torch.nn.Linear(2, 1)
        >>> trainer = Engine(lambda engine, batch: None)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     handler = Checkpoint({"model": model, "trainer": trainer}, d, n_saved=2)
        ...     _ = trainer.add_event_handler(Events.EPOCH_COMPLETED, handler)
        ...     _ = trainer.run([0, 1, 2], max_epochs=3)
        ...     sorted(os.listdir(d)), handler.last_checkpoint.name
        (['checkpoint_6.pt', 'checkpoint_9.pt'], 'checkpoint_9.pt')
    """

    SAVED_CHECKPOINT = CheckpointEvents.SAVED_CHECKPOINT

    class Item(NamedTuple):
        """One kept checkpoint: its priority and file name."""

        priority: int | float
        filename: str

    def __init__(
        self,
        to_save: Mapping[str, Any],
        save_handler: str | Path | Callable[..., Any] | BaseSaveHandler,
        filename_prefix: str = "",
        score_function: Callable[[Engine], int | float] | None = None,
        score_name: str | None = None,
        n_saved: int | None = 1,
        global_step_transform: Callable[[Engine, Any], int] | None = None,
        filename_pattern: str | None = None,
        include_self: bool = False,
        greater_or_equal: bool = False,
        save_on_rank: int = 0,
    ) -> None:
        if not isinstance(to_save, Mapping):
            raise TypeError(f"Argument `to_save` should be a dictionary, but given {type(to_save)}")
        _check_objects(to_save, "state_dict", "to_save")
        if include_self:
            if not isinstance(to_save, MutableMapping):
                raise TypeError(
                    "If `include_self` is True, then `to_save` must be mutable, but given "
                    f"{type(to_save)}."
                )
            if "checkpointer" in to_save:
                raise ValueError(
                    f"Cannot have key 'checkpointer' if `include_self` is True: {list(to_save)}"
                )
        if isinstance(save_handler, (str, Path)):
            save_handler = DiskSaver(save_handler, create_dir=True, save_on_rank=save_on_rank)
        elif not callable(save_handler):
            raise TypeError(
                "Argument `save_handler` should be a string or Path object or callable or inherit "
                f"from BaseSaveHandler, got {type(save_handler)}"
            )
        if global_step_transform is not None and not callable(global_step_transform):
            raise TypeError(
                f"global_step_transform should be a function, got {type(global_step_transform)} "
                "instead."
            )
        if n_saved is not None and n_saved < 1:
            raise ValueError(f"n_saved must be a positive integer or None, got {n_saved}")
        _check_rank(save_on_rank)
        if score_name is not None and score_function is None:
            score_function = self.get_default_score_fn(score_name)
        self.to_save = to_save
        self.save_handler = save_handler
        self.filename_prefix = filename_prefix
        self.score_function = score_function
        self.score_name = score_name
        self.n_saved = n_saved
        self.global_step_transform = global_step_transform
        self.filename_pattern = filename_pattern
        self.include_self = include_self
        self.greater_or_equal = greater_or_equal
        self.save_on_rank = save_on_rank
        self.ext = "pt"
        self._saved: list[Checkpoint.Item] = []  # sorted by priority, lowest first

    @property
    def last_checkpoint(self) -> str | Path | None:
        """The kept checkpoint of highest priority (a Path with ``DiskSaver``), or None."""
        if not self._saved:
            return None
        if isinstance(self.save_handler, DiskSaver):
            return self.save_handler.dirname / self._saved[-1].filename
        return self._saved[-1].filename

    def reset(self) -> None:
        """Forget the kept checkpoints (their files stay), e.g. before a new, independent run."""
        self._saved = []

    def __call__(self, engine: Engine, *args: Any, **kwargs: Any) -> None:
        if not engine.has_registered_events(CheckpointEvents.SAVED_CHECKPOINT):
            engine.register_events(*CheckpointEvents)
        global_step = None
        if self.global_step_transform is not None:
            global_step = self.global_step_transform(engine, engine.last_event_name)
        if self.score_function is not None:
            priority = self.score_function(engine)
            if not isinstance(priority, numbers.Number):
                raise ValueError(
                    f"Output of score_function should be a number, got {type(priority)}"
                )
        else:
            if global_step is None:
                global_step = engine.state.iteration
            priority = global_step
        full = self.n_saved is not None and len(self._saved) >= self.n_saved
        if full and not self._beats_lowest(priority):
            return

        checkpoint = self._collect_state_dicts()
        single = len(checkpoint) == 1
        name = next(iter(checkpoint)) if single else "checkpoint"
        score = None
        if self.score_function is not None:
            score = f"{priority}" if isinstance(priority, numbers.Integral) else f"{priority:.4f}"
        filename = self._get_filename_pattern(global_step).format(
            filename_prefix=self.filename_prefix,
            ext=self.ext,
            name=name,
            score_name=self.score_name,
            score=score,
            global_step=global_step,
        )
        # The saver overwrites a file of the same name, so it is not removed first.
        saved = [item for item in self._saved if item.filename != filename]
        dropped = []
        if len(saved) == len(self._saved) and full:
            dropped.append(saved.pop(0))
        saved.append(Checkpoint.Item(priority, filename))
        saved.sort(key=lambda item: item.priority)  # stable: among equals, the newest last

        # A single object is stored as its bare state dict, except with include_self: Ignite then
        # slips "checkpointer" into that state dict, which no longer loads strictly; we keep
        # the {name: state, "checkpointer": ...} layout instead.
        payload: Any = checkpoint[name] if single and not self.include_self else checkpoint
        if self.include_self:
            checkpoint["checkpointer"] = _saved_state(saved)
        metadata = {
            "basename": f"{self.filename_prefix}_{name}" if self.filename_prefix else name,
            "score_name": self.score_name,
            "priority": priority,
        }
        if _accepts_metadata(self.save_handler):
            self.save_handler(payload, filename, metadata)
        else:
            self.save_handler(payload, filename)
        # only now that the new file exists is it safe to delete the one it replaces
        self._saved = saved
        if isinstance(self.save_handler, BaseSaveHandler):
            for item in dropped:
                self.save_handler.remove(item.filename)
        engine.fire_event(CheckpointEvents.SAVED_CHECKPOINT)

    def _beats_lowest(self, priority: float) -> bool:
        lowest = self._saved[0].priority
        return priority >= lowest if self.greater_or_equal else priority > lowest

    def _collect_state_dicts(self) -> dict[str, Any]:
        def state_of(obj: Any) -> Any:
            if isinstance(obj, Mapping):
                return {k: state_of(v) for k, v in obj.items()}
            if isinstance(obj, (list, tuple)):
                return [state_of(v) for v in obj]
            return _unwrap(obj).state_dict()

        return {key: state_of(obj) for key, obj in self.to_save.items()}

    def _get_filename_pattern(self, global_step: int | None) -> str:
        if self.filename_pattern is not None:
            return self.filename_pattern
        return self.setup_filename_pattern(
            with_prefix=len(self.filename_prefix) > 0,
            with_score=self.score_function is not None,
            with_score_name=self.score_name is not None,
            with_global_step=global_step is not None,
        )

    @staticmethod
    def setup_filename_pattern(
        with_prefix: bool = True,
        with_score: bool = True,
        with_score_name: bool = True,
        with_global_step: bool = True,
    ) -> str:
        """Build the default file name pattern from the parts wanted.

        Args:
            with_prefix: start with ``{filename_prefix}_``.
            with_score: end with ``_{score}``.
            with_score_name: write the score as ``{score_name}={score}`` (needs ``with_score``).
            with_global_step: put ``_{global_step}`` after the name.

        Example:
            >>> Checkpoint.setup_filename_pattern()
            '{filename_prefix}_{name}_{global_step}_{score_name}={score}.{ext}'
            >>> Checkpoint.setup_filename_pattern(False, False, False, True)
            '{name}_{global_step}.{ext}'
        """
        if not (with_global_step or with_score):
            raise ValueError("At least one of with_score and with_global_step should be True.")
        if with_score_name and not with_score:
            raise ValueError("If with_score_name is True, with_score should be also True")
        pattern = "{filename_prefix}_{name}" if with_prefix else "{name}"
        if with_global_step:
            pattern += "_{global_step}"
        if with_score:
            pattern += "_{score_name}={score}" if with_score_name else "_{score}"
        return pattern + ".{ext}"

    @staticmethod
    def get_default_score_fn(metric_name: str, score_sign: float = 1.0) -> Callable[[Engine], Any]:
        """Make a score function reading ``engine.state.metrics[metric_name]``.

        Args:
            metric_name: the metric to read.
            score_sign: 1.0, or -1.0 for metrics where lower is better (a loss).

        Example:
            >>> from miniengine.engine import Engine
            >>> evaluator = Engine(lambda engine, batch: None)
            >>> evaluator.state.metrics = {"loss": 0.25}
            >>> Checkpoint.get_default_score_fn("loss", -1.0)(evaluator)
            -0.25
        """
        if score_sign not in (1.0, -1.0):
            raise ValueError(f"Argument score_sign should be 1 or -1, got {score_sign!r}")

        def score(engine: Engine) -> Any:
            return score_sign * engine.state.metrics[metric_name]

        return score

    @staticmethod
    def load_objects(
        to_load: Mapping[str, Any], checkpoint: str | Path | Mapping[str, Any], **kwargs: Any
    ) -> None:
        """Call ``load_state_dict`` on each object of ``to_load`` with its state in ``checkpoint``.

        Args:
            to_load: name -> object with ``load_state_dict`` (lists and dicts of them allowed).
            checkpoint: a dict of states keyed like ``to_load``, or a path to a file holding one
                (read with ``torch.load(weights_only=True)`` onto the CPU; ``load_state_dict``
                then copies each state to its object's device). With a single object, the
                checkpoint may also be that object's state itself.
            kwargs: passed to ``nn.Module.load_state_dict`` only, e.g. ``strict=False``.

        Example:
            >>> import torch
            >>> source, target = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
            >>> Checkpoint.load_objects({"model": target}, {"model": source.state_dict()})
            >>> torch.equal(source.weight, target.weight)
            True
        """
        if not isinstance(checkpoint, (Mapping, str, Path)):
            raise TypeError(
                "Argument checkpoint should be a string or a dictionary, but given "
                f"{type(checkpoint)}"
            )
        _check_objects(to_load, "load_state_dict", "to_load")
        states: Mapping[str, Any]
        if isinstance(checkpoint, (str, Path)):
            states = torch.load(checkpoint, map_location="cpu", weights_only=True)
        else:
            states = checkpoint

        def load(obj: Any, state: Any, where: str) -> None:
            if isinstance(obj, Mapping):
                if not isinstance(state, Mapping):
                    raise TypeError(f"{where}: expected a dict of states, got {type(state)}")
                for key, value in obj.items():
                    if key not in state:
                        raise ValueError(
                            f"Key '{key}' of {where} is not found in the checkpoint, which has "
                            f"{list(state)}"
                        )
                    load(value, state[key], f"{where}[{key!r}]")
            elif isinstance(obj, (list, tuple)):
                if not isinstance(state, (list, tuple)) or len(state) != len(obj):
                    raise ValueError(
                        f"{where} holds {len(obj)} objects; the checkpoint has no list of "
                        f"{len(obj)} states there but {type(state)}"
                    )
                for i, (value, sub) in enumerate(zip(obj, state, strict=True)):
                    load(value, sub, f"{where}[{i}]")
            elif isinstance(_unwrap(obj), nn.Module):
                _unwrap(obj).load_state_dict(state, **kwargs)
            else:
                obj.load_state_dict(state)

        if len(to_load) == 1:
            key, obj = next(iter(to_load.items()))
            if key not in states:  # the file holds that single object's state directly
                load(obj, states, f"to_load[{key!r}]")
                return
        load(to_load, states, "to_load")

    def reload_objects(
        self,
        to_load: Mapping[str, Any],
        load_kwargs: dict[str, Any] | None = None,
        **filename_components: Any,
    ) -> None:
        """Load ``to_load`` from one of this handler's files, named by its parts.

        Args:
            to_load: as in ``load_objects``.
            load_kwargs: keyword arguments for ``load_objects`` (``strict``).
            filename_components: ``name``, ``score`` and ``global_step`` of the file name.

        Example:
            >>> import tempfile, torch
            >>> from miniengine.engine import Engine, Events
            >>> model, trainer = torch.nn.Linear(2, 1), Engine(lambda engine, batch: None)
            >>> with tempfile.TemporaryDirectory() as d:
            ...     handler = Checkpoint({"model": model}, d)
            ...     _ = trainer.add_event_handler(Events.COMPLETED, handler)
            ...     _ = trainer.run([0, 1])
            ...     handler.reload_objects({"model": torch.nn.Linear(2, 1)}, global_step=2)
        """
        if not isinstance(self.save_handler, DiskSaver):
            raise AttributeError(
                "Checkpoint's `save_handler` should be of type `DiskSaver`, given "
                f"{type(self.save_handler)}"
            )
        global_step = filename_components.get("global_step")
        name = "checkpoint" if len(self.to_save) != 1 else next(iter(self.to_save))
        filename = self._get_filename_pattern(global_step).format(
            filename_prefix=self.filename_prefix,
            ext=self.ext,
            name=filename_components.get("name", name),
            score_name=self.score_name,
            score=filename_components.get("score"),
            global_step=global_step,
        )
        self.load_objects(to_load, self.save_handler.dirname / filename, **(load_kwargs or {}))

    def state_dict(self) -> OrderedDict[str, Any]:
        """The kept checkpoints, as ``{"_saved": [(priority, filename), ...]}``.

        Example:
            >>> dict(Checkpoint({}, lambda checkpoint, filename: None).state_dict())
            {'_saved': []}
        """
        return _saved_state(self._saved)

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the list of kept checkpoints saved by ``state_dict``.

        Args:
            state_dict: a mapping with the key ``"_saved"``.

        Example:
            >>> handler = Checkpoint({}, lambda checkpoint, filename: None)
            >>> handler.load_state_dict({"_saved": [(3, "checkpoint_3.pt")]})
            >>> handler.last_checkpoint
            'checkpoint_3.pt'
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"Argument state_dict should be a dictionary, but given {type(state_dict)}"
            )
        if "_saved" not in state_dict:
            raise ValueError(
                f"Required state attribute '_saved' is absent in provided state_dict "
                f"{list(state_dict)}"
            )
        self._saved = [Checkpoint.Item(p, f) for p, f in state_dict["_saved"]]


class ModelCheckpoint(Checkpoint):
    """A ``Checkpoint`` that writes to a directory and takes ``to_save`` when attached.

    Attach it as ``engine.add_event_handler(event, handler, to_save)``.

    Args:
        dirname: directory for the files.
        filename_prefix: prefix of the file names.
        score_function: see ``Checkpoint``.
        score_name: see ``Checkpoint``.
        n_saved: how many checkpoints to keep; ``None`` keeps all.
        atomic: see ``DiskSaver``.
        require_empty: see ``DiskSaver``.
        create_dir: see ``DiskSaver``.
        global_step_transform: see ``Checkpoint``.
        filename_pattern: see ``Checkpoint``.
        include_self: see ``Checkpoint``.
        greater_or_equal: see ``Checkpoint``.
        save_on_rank: the rank that writes the files.
        kwargs: passed on to ``torch.save``.

    Example:
        >>> import os, tempfile, torch
        >>> from miniengine.engine import Engine, Events
        >>> trainer = Engine(lambda engine, batch: None)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     handler = ModelCheckpoint(d, "run", n_saved=2)
        ...     _ = trainer.add_event_handler(
        ...         Events.EPOCH_COMPLETED(every=2), handler, {"net": torch.nn.Linear(3, 3)}
        ...     )
        ...     _ = trainer.run([0, 1, 2, 3, 4], max_epochs=6)
        ...     sorted(os.listdir(d))
        ['run_net_20.pt', 'run_net_30.pt']
    """

    def __init__(
        self,
        dirname: str | Path,
        filename_prefix: str = "",
        score_function: Callable[[Engine], int | float] | None = None,
        score_name: str | None = None,
        n_saved: int | None = 1,
        atomic: bool = True,
        require_empty: bool = True,
        create_dir: bool = True,
        global_step_transform: Callable[[Engine, Any], int] | None = None,
        filename_pattern: str | None = None,
        include_self: bool = False,
        greater_or_equal: bool = False,
        save_on_rank: int = 0,
        **kwargs: Any,
    ) -> None:
        saver = DiskSaver(
            dirname,
            atomic=atomic,
            create_dir=create_dir,
            require_empty=require_empty,
            save_on_rank=save_on_rank,
            **kwargs,
        )
        super().__init__(
            to_save={},
            save_handler=saver,
            filename_prefix=filename_prefix,
            score_function=score_function,
            score_name=score_name,
            n_saved=n_saved,
            global_step_transform=global_step_transform,
            filename_pattern=filename_pattern,
            include_self=include_self,
            greater_or_equal=greater_or_equal,
            save_on_rank=save_on_rank,
        )

    @property
    def last_checkpoint(self) -> Path | None:
        """Path of the kept checkpoint of highest priority, or None."""
        if not self._saved:
            return None
        assert isinstance(self.save_handler, DiskSaver)
        return self.save_handler.dirname / self._saved[-1].filename

    def __call__(self, engine: Engine, to_save: Mapping[str, Any]) -> None:  # type: ignore[override]
        if len(to_save) == 0:
            raise RuntimeError("No objects to checkpoint found.")
        _check_objects(to_save, "state_dict", "to_save")
        self.to_save = to_save
        super().__call__(engine)


class RNGState:
    """The global random generators (Python, NumPy, torch CPU and CUDA) as a checkpointable object.

    Put one in ``to_save`` to make a resumed run draw the same random numbers (dropout, random
    augmentations, random batches) as the uninterrupted run would have. Given the ``engine`` it
    belongs to, ``load_state_dict`` does not restore at once: it waits until that engine fetches
    its next batch (``GET_BATCH_STARTED``, or ``ITERATION_STARTED`` when there is no data). By then
    a resumed run has created its data iterator and skipped the batches already used, and those
    steps draw random numbers of their own (a ``DataLoader`` draws a seed from the torch generator
    each time it is iterated). Restoring after them puts the generators exactly where they were
    when the checkpoint was taken. Without an engine, ``load_state_dict`` restores immediately.
    CUDA states are saved when CUDA is available, and restored when it is available again.

    Args:
        engine: the engine whose next batch fetch triggers the restore, or None.

    Example:
        >>> import torch
        >>> rng = RNGState()
        >>> state = rng.state_dict()
        >>> a = torch.rand(2)
        >>> rng.load_state_dict(state)
        >>> torch.equal(a, torch.rand(2))
        True
    """

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine
        self._pending: Mapping[str, Any] | None = None
        if engine is not None:
            engine.add_event_handler(Events.GET_BATCH_STARTED, self._restore_pending)
            engine.add_event_handler(Events.ITERATION_STARTED, self._restore_pending)

    def state_dict(self) -> dict[str, Any]:
        """The generators' states, in types that ``torch.load(weights_only=True)`` accepts.

        Example:
            >>> sorted(RNGState().state_dict())
            ['cuda', 'numpy', 'python', 'torch']
        """
        numpy_state = np.random.get_state(legacy=False)
        numpy_state["state"]["key"] = torch.from_numpy(numpy_state["state"]["key"].astype(np.int64))
        return {
            "python": random.getstate(),
            "numpy": numpy_state,
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the generators now, or at the engine's next batch fetch if there is an engine.

        Args:
            state_dict: a state from ``state_dict``.

        Example:
            >>> import random
            >>> rng = RNGState()
            >>> state = rng.state_dict()
            >>> a = random.random()
            >>> rng.load_state_dict(state)
            >>> a == random.random()
            True
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Argument state_dict should be a dictionary, got {type(state_dict)}")
        missing = {"python", "numpy", "torch", "cuda"} - set(state_dict)
        if missing:
            raise ValueError(f"RNGState state_dict lacks the keys {sorted(missing)}")
        if self._engine is None:
            _set_rng_states(state_dict)
        else:
            self._pending = state_dict

    def _restore_pending(self, engine: Engine) -> None:
        if self._pending is not None:
            state, self._pending = self._pending, None
            _set_rng_states(state)


def _set_rng_states(state: Mapping[str, Any]) -> None:
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    numpy_state = dict(state["numpy"])
    key = np.asarray(numpy_state["state"]["key"], dtype=np.int64).astype(np.uint32)
    numpy_state["state"] = {**numpy_state["state"], "key": key}
    np.random.set_state(numpy_state)
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        if torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        else:
            warnings.warn(
                "The checkpoint holds CUDA random states but CUDA is not available: they are not "
                "restored, so GPU random numbers will differ from the saved run's.",
                stacklevel=3,
            )


def _saved_state(saved: list[Checkpoint.Item]) -> OrderedDict[str, Any]:
    return OrderedDict([("_saved", [(p, f) for p, f in saved])])


def _unwrap(obj: Any) -> Any:
    # (Distributed)DataParallel prefixes every key with "module."; save the inner model's keys
    if isinstance(obj, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        return obj.module
    return obj


def _check_objects(objs: Any, attr: str, where: str) -> None:
    if isinstance(objs, Mapping):
        for key, value in objs.items():
            _check_objects(value, attr, f"{where}[{key!r}]")
    elif isinstance(objs, (list, tuple)):
        for i, value in enumerate(objs):
            _check_objects(value, attr, f"{where}[{i}]")
    elif not hasattr(objs, attr):
        raise TypeError(f"Object {where} of type {type(objs)} should have `{attr}` method")


def _accepts_metadata(save_handler: Callable[..., Any]) -> bool:
    # Ignite tries (checkpoint, filename, metadata) and retries on TypeError, which also
    # swallows TypeErrors raised inside the saver; we look at the signature instead.
    try:
        inspect.signature(save_handler).bind(None, None, None)
    except TypeError:
        return False
    except ValueError:  # a builtin without a signature
        return True
    return True
