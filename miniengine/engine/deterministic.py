"""Ignite's ``ignite.engine.deterministic``, as far as miniengine needs it: ``keep_random_state``.

Ignite's ``DeterministicEngine`` (with ``ReproducibleBatchSampler`` and ``update_dataloader``)
makes a run resumable by re-seeding at every epoch. miniengine's ``Engine`` resumes exactly
without it: its state dict says where the data was, and ``RNGState`` restores the generators
(docs/resume.md). Those names fail with a pointer to docs/differences.md.

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
from collections.abc import Callable
from typing import Any

from miniengine._missing import missing_name

__all__ = ["keep_random_state"]


def keep_random_state(func: Callable) -> Callable:
    """Wrap ``func`` so that the random generators (Python, NumPy, torch, CUDA) are as before
    the call once it returns, or raises; it returns None, as Ignite's wrapper does.

    Args:
        func: the function to wrap.

    Example:
        >>> import torch
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


def __getattr__(name: str) -> Any:
    raise missing_name(__name__, name)
