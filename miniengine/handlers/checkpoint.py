"""Checkpoints: save objects with ``state_dict`` to disk, keep the best ``n_saved``, load them back.

``Checkpoint`` decides *when* a checkpoint is kept and *how it is named* (Ignite 0.5.5's names:
``{filename_prefix}_{name}_{global_step}_{score_name}={score}.pt``, each part present only when
set); a save handler such as ``DiskSaver`` decides *where* it goes. ``RNGState`` puts the global
random generators into a checkpoint, so that a run resumed mid-epoch continues bit for bit (see
``docs/resume.md``).

In a distributed run (``miniengine.distributed``), every rank calls ``Checkpoint`` (it keeps the
same list of files everywhere), but ``DiskSaver`` writes and removes files on ``save_on_rank``
only (rank 0 by default); ``load_objects`` loads on every rank.

Beyond Ignite, for runs that are killed and restarted (see ``docs/resume.md``): a new checkpoint
is written *before* the one it replaces is removed (Ignite removes first, so a crash in between
left no checkpoint); ``DiskSaver`` fsyncs the file before the atomic rename; a ``Checkpoint``
writing to a directory takes the files of its own name pattern found there as its kept list, so
``n_saved`` holds across restarts, and removes the temporary files of saves that were killed;
``find_latest`` finds the newest checkpoint that loads; ``load_objects`` verifies the CRC-32
checksums that ``torch.save`` stores for each part of a file (``torch.load`` does not), so a
changed byte is an error naming the file, not wrong weights.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import numbers
import os
import random
import re
import stat
import string
import sys
import tempfile
import warnings
import weakref
import zipfile
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, MutableMapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from miniengine import distributed as idist
from miniengine.engine import Engine, EventEnum, Events

# Ignite's name: whether this torch has ZeroRedundancyOptimizer, whose shards Checkpoint gathers
HAVE_ZERO = torch.distributed.is_available()

__all__ = [
    "BaseSaveHandler",
    "Checkpoint",
    "CheckpointEvents",
    "DiskSaver",
    "ModelCheckpoint",
    "RNGState",
]

# DiskSaver's temporary files: mkstemp names them "." + target + "." + 8 random characters + ".tmp"
_TEMPORARY = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")


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
    mid-write, a ``.<filename>.<8 characters>.tmp`` file remains (it never ends in ``.pt``) until
    a ``Checkpoint`` writing that file name starts again (``Checkpoint.find_latest`` or its first
    save) and removes it.

    Args:
        dirname: directory for the checkpoint files (``~`` is expanded).
        atomic: write through a temporary file and rename; ``False`` writes the target directly.
        create_dir: create ``dirname`` (and parents) if missing.
        require_empty: refuse a directory that already holds ``.pt`` files.
        save_on_rank: the rank that writes (and creates ``dirname``) in a distributed run; the
            other ranks do nothing. As in Ignite, any rank is accepted, even one the run does not
            have yet (it may be created before the process group); then nothing is written, and a
            warning says so.
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
            # already gone is fine: a kill between saving and removing, then a restart that
            # loaded an older list of kept files, asks for it again
            (self.dirname / filename).unlink(missing_ok=True)


def _check_rank(save_on_rank: int, warn: bool = True) -> None:
    if isinstance(save_on_rank, bool) or not isinstance(save_on_rank, int) or save_on_rank < 0:
        raise ValueError(
            f"Argument save_on_rank should be a rank, an int >= 0, got {save_on_rank!r}"
        )
    world = idist.get_world_size()
    if warn and save_on_rank >= world:
        warnings.warn(
            f"save_on_rank={save_on_rank}, but this run has {world} process(es), ranks 0 to "
            f"{world - 1}: no checkpoint is written unless the run becomes distributed with more "
            "processes.",
            stacklevel=3,
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
    numbers as ``{score:.4f}``. Default: ``checkpoint_<iteration>.pt``. A NaN score is never
    saved (it cannot be ranked against the others): a warning says so and the kept files stay.

    Restarts (beyond Ignite). With a ``DiskSaver``, the handler reads its directory when it
    starts: at ``find_latest`` or at its first save, whichever comes first (not at creation: a
    ``ModelCheckpoint`` learns the ``name`` part of its file names only when first called, and a
    ``load_state_dict`` in between is merged, not overwritten). It removes the temporary files
    that killed saves of its file names left, takes the files of its own name pattern as its kept
    list, ordered by the priority their names carry (the score, else the global step; scores
    rounded to 4 decimals), and removes the lowest beyond ``n_saved``. So ``n_saved`` holds across
    restarts. Two handlers writing the same file name in one directory (or through one save
    handler) is an error at the save that would overwrite the other's file, naming both; so is a
    second handler starting in a directory where a live one writes the same name pattern.

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
        _check_rank(save_on_rank, warn=False)
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
        self._adopted = False  # the directory's files were read (find_latest or first save)
        self._names: re.Pattern[str] | None = None  # this handler's file names, once it saved

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
            if priority != priority:  # NaN ranks neither above nor below anything
                warnings.warn(
                    f"score_function returned NaN at iteration {engine.state.iteration}: "
                    "this checkpoint is not saved, and the kept ones stay.",
                    stacklevel=2,
                )
                return
        else:
            if global_step is None:
                global_step = engine.state.iteration
            priority = global_step
        name = self._name()
        if not self._adopted:
            self._adopt(name, priority)
        if self._full() and not self._beats_lowest(priority):
            return

        checkpoint = self._setup_checkpoint()
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
        self._check_collision(filename)
        # The saver overwrites a file of the same name, so it is not removed first.
        saved = [item for item in self._saved if item.filename != filename]
        saved.append(Checkpoint.Item(priority, filename))
        saved.sort(key=lambda item: item.priority)  # stable: among equals, the newest last
        dropped = saved[: -self.n_saved] if self.n_saved is not None else []
        saved = saved[len(dropped) :]

        # A single object is stored as its bare state dict, except with include_self: Ignite then
        # slips "checkpointer" into that state dict, which no longer loads strictly; we keep
        # the {name: state, "checkpointer": ...} layout instead.
        bare = len(checkpoint) == 1 and not self.include_self
        if self.include_self:
            checkpoint["checkpointer"] = _saved_state(saved)
        payload: Any = checkpoint[name] if bare else checkpoint
        metadata = {
            "basename": f"{self.filename_prefix}_{name}" if self.filename_prefix else name,
            "score_name": self.score_name,
            "priority": priority,
        }
        if _accepts_metadata(self.save_handler):
            self.save_handler(payload, filename, metadata)
        else:
            self.save_handler(payload, filename)
        # only now that the new file exists is it safe to delete the ones it replaces
        self._saved = saved
        self._remove(dropped)
        engine.fire_event(CheckpointEvents.SAVED_CHECKPOINT)

    def _name(self) -> str:
        return next(iter(self.to_save)) if len(self.to_save) == 1 else "checkpoint"

    def _full(self) -> bool:
        return self.n_saved is not None and len(self._saved) >= self.n_saved

    def _beats_lowest(self, priority: float) -> bool:
        assert self.n_saved is not None
        # the lowest of the n_saved best: a longer list (a loaded state, a smaller n_saved) is cut
        lowest = self._saved[-self.n_saved].priority
        return priority >= lowest if self.greater_or_equal else priority > lowest

    def _remove(self, items: list[Checkpoint.Item]) -> None:
        if isinstance(self.save_handler, BaseSaveHandler):
            for item in items:
                self.save_handler.remove(item.filename)

    def _setup_checkpoint(self) -> dict[str, Any]:
        # Not `self` in the closure: state_of refers to itself, and the cycle would keep the
        # handler alive until the next garbage collection (a restarted handler's collision check
        # would see it).
        rank = self.save_on_rank

        def state_of(obj: Any) -> Any:
            if isinstance(obj, Mapping):
                return {k: state_of(v) for k, v in obj.items()}
            if isinstance(obj, (list, tuple)):
                return [state_of(v) for v in obj]
            obj = _unwrap(obj)
            # Not imported here (a second of start-up): where there is a ZeRO optimizer, its
            # module is loaded.
            zero = sys.modules.get("torch.distributed.optim")
            if zero is not None and isinstance(obj, zero.ZeroRedundancyOptimizer):
                # Sharded over the ranks: each rank sends its shard to the one that writes,
                # and only that one holds a state to save.
                obj.consolidate_state_dict(to=rank)
                if idist.get_rank() != rank:
                    return None
            return obj.state_dict()

        return {key: state_of(obj) for key, obj in self.to_save.items()}

    def _file_names(
        self, name: str | None, need_priority: bool = True, score: Any = None
    ) -> re.Pattern[str] | None:
        """A regex of this handler's file names (any ``name`` if None), from its pattern.

        None when ``need_priority`` and the names do not carry the priority (a pattern without
        the score or the step), so that files cannot be ranked. Given a ``score``, only scores
        written like it match: "203" is an integer score, or a step, but not a float score.
        """
        with_step = self.score_function is None or self.global_step_transform is not None
        if isinstance(score, numbers.Integral):
            score_regex = r"-?\d+"
        elif score is not None:
            score_regex = r"-?\d+\.\d{4}|-?inf"
        else:
            score_regex = r"-?\d+(?:\.\d{4})?|-?inf"
        groups = {
            "filename_prefix": re.escape(str(self.filename_prefix)),
            "ext": re.escape(self.ext),
            "name": re.escape(name) if name is not None else "(?P<name>.+?)",
            "score_name": re.escape(str(self.score_name)),
            # Checkpoint formats a missing score or step as "None"
            "score": f"(?P<score>{score_regex})" if self.score_function else "None",
            "global_step": r"(?P<global_step>-?\d+)" if with_step else "None",
        }
        regex, seen = "", set()
        pattern = self._get_filename_pattern(0 if with_step else None)
        for literal, field, _, _ in string.Formatter().parse(pattern):
            regex += re.escape(literal)
            if field is None:
                continue
            if field not in groups:  # formatting would fail too
                return None
            group = groups[field]
            regex += f"(?P={field})" if field in seen and group.startswith("(?P<") else group
            seen.add(field)
        if need_priority and ("score" if self.score_function else "global_step") not in seen:
            return None
        return re.compile(regex)

    def _files_on_disk(
        self, names: re.Pattern[str], clean: bool = True
    ) -> list[tuple[Any, int, int, str]]:
        """``(priority, step, mtime, filename)`` of the files matching ``names``; with ``clean``,
        stale temporary files of those names are removed on the saving rank on the way."""
        saver = self.save_handler
        assert isinstance(saver, DiskSaver)
        found = []
        with os.scandir(saver.dirname) as entries:
            for entry in entries:
                temporary = _TEMPORARY.fullmatch(entry.name)
                if temporary and names.fullmatch(temporary["target"]):
                    if clean and idist.get_rank() == saver.save_on_rank:
                        with contextlib.suppress(FileNotFoundError):
                            os.remove(entry.path)
                    continue
                match = names.fullmatch(entry.name)
                if match is None or not entry.is_file():
                    continue
                step = int(match["global_step"]) if "global_step" in match.groupdict() else -1
                if self.score_function is not None and "score" in match.groupdict():
                    score = match["score"]
                    priority: Any = int(score) if score.lstrip("-").isdigit() else float(score)
                else:
                    priority = step
                found.append((priority, step, entry.stat().st_mtime_ns, entry.name))
        return found

    def _adopt(self, name: str, score: Any = None, skip: Collection[str] = ()) -> None:
        """Take this handler's files on disk as its kept list and cut it to ``n_saved``."""
        self._adopted = True
        saver = self.save_handler
        names = self._file_names(name, score=score if self.score_function else None)
        if not isinstance(saver, DiskSaver) or names is None or not saver.dirname.is_dir():
            return
        loaded = {item.filename: item.priority for item in self._saved}
        owned = {f for other in self._others() for f in other._kept()} - set(loaded)
        found = []
        for priority, step, mtime, filename in self._files_on_disk(names):
            if filename not in skip and filename not in owned:
                # a priority loaded with load_state_dict is exact; the file name's is rounded
                found.append((loaded.get(filename, priority), step, mtime, filename))
        found.sort()
        self._saved = [Checkpoint.Item(priority, f) for priority, _, _, f in found]
        if self.n_saved is not None and len(self._saved) > self.n_saved:
            dropped, self._saved = self._saved[: -self.n_saved], self._saved[-self.n_saved :]
            self._remove(dropped)

    def _kept(self) -> set[str]:
        return {item.filename for item in self._saved}

    def _place(self) -> tuple[str, Any]:
        if isinstance(self.save_handler, DiskSaver):
            return ("directory", os.path.realpath(self.save_handler.dirname))
        return ("save handler", id(self.save_handler))

    def _others(self) -> list[Checkpoint]:
        """The other live handlers that have saved to the same place."""
        place = self._place()
        return [other for other in list(_SAVING) if other is not self and other._place() == place]

    def _check_collision(self, filename: str) -> None:
        first = self not in _SAVING

        def clash(other: Checkpoint) -> bool:
            if self._kept() & other._kept():  # one continues the other (load_state_dict)
                return False
            if filename in other._kept():
                return True
            # at the start, the same name pattern: each would take the other's files as its own
            return first and other._names is not None and bool(other._names.fullmatch(filename))

        suspects = [weakref.ref(other) for other in self._others() if clash(other)]
        if suspects:
            gc.collect()  # a handler of a finished run, kept only by a reference cycle, is gone
            alive = [other for other in (ref() for ref in suspects) if other is not None]
            if alive:
                kind, place = self._place()
                where = place if kind == "directory" else repr(self.save_handler)
                raise ValueError(
                    f"{self._describe()} would write '{filename}' to the {kind} {where}, where "
                    f"{alive[0]._describe()} keeps its checkpoints under the same names: the two "
                    "would overwrite and delete each other's files. Give one of them another "
                    "filename_prefix or directory."
                )
        if first:
            self._names = self._file_names(self._name(), need_priority=False)
            _SAVING.add(self)

    def _describe(self) -> str:
        return (
            f"{type(self).__name__}(to_save keys {list(self.to_save)}, "
            f"filename_prefix={self.filename_prefix!r}, n_saved={self.n_saved})"
        )

    def find_latest(self) -> Path | None:
        """The newest of this handler's checkpoint files that loads, or None if there is none.

        Newest means the highest global step in the file name, or, for names without one, the
        latest modified. Each candidate is read and its checksums verified; one that does not
        load is skipped with a warning naming it, and the next older one is tried. Like the first
        save, this starts the handler on its directory (see the class docstring: stale temporary
        files removed, files adopted, ``n_saved`` applied); a file that did not load is left on
        disk, outside the kept list. A ``ModelCheckpoint`` not called yet does not know its
        ``to_save``: it looks at files of any name, and adopts none. Resume with
        ``Checkpoint.load_objects(to_save, path)`` (``docs/resume.md``).

        Raises:
            AttributeError: the save handler is not a ``DiskSaver``.
            RuntimeError: there are checkpoint files, but none of them loads.

        Example:
            >>> import tempfile, torch
            >>> from miniengine.engine import Engine
            >>> trainer = Engine(lambda engine, batch: None)
            >>> to_save = {"model": torch.nn.Linear(2, 1), "trainer": trainer}
            >>> with tempfile.TemporaryDirectory() as d:
            ...     handler = Checkpoint(to_save, d, n_saved=2)
            ...     print(handler.find_latest())  # nothing saved yet
            ...     for step in (3, 6):
            ...         trainer.state.iteration = step
            ...         handler(trainer)
            ...     _ = open(f"{d}/checkpoint_6.pt", "r+b").truncate(100)  # a disk fault
            ...     with warnings.catch_warnings(record=True) as caught:
            ...         warnings.simplefilter("always")
            ...         latest = handler.find_latest()
            ...     latest.name, "checkpoint_6.pt" in str(caught[0].message)
            None
            ('checkpoint_3.pt', True)
        """
        saver = self.save_handler
        if not isinstance(saver, DiskSaver):
            raise AttributeError(
                "Checkpoint's `save_handler` should be of type `DiskSaver`, given "
                f"{type(saver)}: find_latest reads its directory"
            )
        name = self._name() if self.to_save else None  # a ModelCheckpoint not called yet: any
        names = self._file_names(name, need_priority=False)
        if names is None or not saver.dirname.is_dir():
            return None
        found = self._files_on_disk(names, clean=name is not None)
        newest_first = sorted(found, key=lambda f: f[1:3], reverse=True)
        bad: list[str] = []
        for _, _, _, filename in newest_first:
            path = saver.dirname / filename
            try:
                _read_checkpoint(path)
            except RuntimeError as error:
                bad.append(filename)
                warnings.warn(f"{error} Trying an older checkpoint.", stacklevel=2)
                continue
            # a score handler adopts at its first save, once it knows how its scores look
            if name is not None and not self._adopted and self.score_function is None:
                self._adopt(name, skip=bad)
            return path
        if bad:
            raise RuntimeError(
                f"None of the checkpoint files {bad} in {saver.dirname} loads (see the warnings "
                "above): they are all cut short or corrupt."
            )
        return None

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
                checkpoint may also be that object's state itself. A file's CRC-32 checksums
                are verified first (this reads it twice, at disk or page-cache speed).
            kwargs: passed to ``nn.Module.load_state_dict`` only, e.g. ``strict=False``.

        Raises:
            RuntimeError: the file is empty, cut short or corrupt (the message names it), or its
                content does not match its checksums. Nothing is loaded then.

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
        states: Any
        if isinstance(checkpoint, (str, Path)):
            states = _read_checkpoint(Path(checkpoint))
            source = f"the checkpoint file '{checkpoint}'"
        else:
            states = checkpoint
            source = "the checkpoint"

        def load(obj: Any, state: Any, where: str) -> None:
            if isinstance(obj, Mapping):
                if not isinstance(state, Mapping):
                    raise TypeError(f"{where}: expected a dict of states, got {type(state)}")
                for key, value in obj.items():
                    if key not in state:  # Ignite's words: x is to_load, y the checkpoint
                        raise ValueError(
                            f"Key '{key}' from x is not found in y: {where}[{key!r}] has no "
                            f"state in {source}, which has {list(state)}"
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
        self._adopted = False  # the next save merges this list with the files on disk


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
        if not isinstance(self.save_handler, DiskSaver):  # replaced after creation
            raise RuntimeError(
                "Internal error, save_handler should be DiskSaver, but has "
                f"{type(self.save_handler)}. A ModelCheckpoint writes through a DiskSaver; use "
                "Checkpoint for another save handler."
            )
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
            return
        # Try the states now and put the generators back, so that a bad state is an error here
        # rather than at the next batch, far from the mistake.
        current = self.state_dict()
        try:
            _set_rng_states(state_dict, warn=False)
        finally:
            _set_rng_states(current, warn=False)
        self._pending = state_dict

    def _restore_pending(self, engine: Engine) -> None:
        if self._pending is not None:
            state, self._pending = self._pending, None
            _set_rng_states(state)


def _set_python(python: Any) -> None:
    random.setstate((python[0], tuple(python[1]), python[2]))


def _set_numpy(numpy: Any) -> None:
    numpy_state = dict(numpy)
    key = np.asarray(numpy_state["state"]["key"], dtype=np.int64).astype(np.uint32)
    numpy_state["state"] = {**numpy_state["state"], "key": key}
    np.random.set_state(numpy_state)


def _set_cuda(cuda: Any, warn: bool) -> None:
    if not isinstance(cuda, (list, tuple)):
        raise TypeError(f"expected a list of CUDA generator states, got {type(cuda)}")
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    elif cuda and warn:
        warnings.warn(
            "The checkpoint holds CUDA random states but CUDA is not available: they are not "
            "restored, so GPU random numbers will differ from the saved run's.",
            stacklevel=4,
        )


def _set_rng_states(state: Mapping[str, Any], warn: bool = True) -> None:
    setters: dict[str, Callable[[Any], None]] = {
        "python": _set_python,
        "numpy": _set_numpy,
        "torch": torch.set_rng_state,
        "cuda": lambda cuda: _set_cuda(cuda, warn),
    }
    for key, setter in setters.items():
        try:
            setter(state[key])
        except (TypeError, ValueError, KeyError, IndexError, RuntimeError) as error:
            raise ValueError(
                f"RNGState state_dict[{key!r}] is not a {key} generator state such as "
                f"RNGState.state_dict() gives: got {type(state[key]).__name__} "
                f"{_short(state[key])} ({type(error).__name__}: {error})"
            ) from error


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# Handlers that have saved, by weak reference, to find two writing the same names in one place.
_SAVING: weakref.WeakSet[Checkpoint] = weakref.WeakSet()


def _read_checkpoint(path: Path) -> Any:
    """``torch.load`` a checkpoint file onto the CPU, after checking its checksums.

    A file that does not load is a RuntimeError naming it: torch's own errors for a file cut
    short are an EOFError without a message or a zip error naming no file, and a changed byte
    in a tensor loads wrong values without a word.
    """
    size = path.stat().st_size  # a missing file: FileNotFoundError, which names it
    if size == 0:
        raise RuntimeError(
            f"Checkpoint file '{path}' is empty (0 bytes): its save was cut short (a kill or full "
            "disk during a non-atomic save?). Load an older checkpoint."
        )
    try:
        _check_crcs(path)
    except zipfile.BadZipFile as error:
        raise RuntimeError(
            f"Checkpoint file '{path}' is corrupt: {error} (a changed byte on disk, a bad "
            "copy). Load an older checkpoint."
        ) from error
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (PermissionError, IsADirectoryError):
        raise
    except Exception as error:
        first_line = (str(error).splitlines() or [""])[0][:200]
        raise RuntimeError(
            f"Checkpoint file '{path}' ({size} bytes) does not load: {type(error).__name__}: "
            f"{first_line} It is cut short or corrupt, or holds objects that "
            "torch.load(weights_only=True) refuses. Load an older checkpoint."
        ) from error


def _check_crcs(path: Path) -> None:
    # torch.save writes a zip archive with a CRC-32 for each part (the pickle, each tensor's
    # bytes); torch.load does not check them, zipfile does when a part is read to its end.
    if not zipfile.is_zipfile(path):  # cut short, or torch's legacy format: torch.load decides
        return
    with zipfile.ZipFile(path) as archive:
        for part in archive.infolist():
            if part.CRC == 0:  # torch.serialization.set_crc32_options(False) stores none
                continue
            with archive.open(part) as data:
                while data.read(1 << 20):
                    pass


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
