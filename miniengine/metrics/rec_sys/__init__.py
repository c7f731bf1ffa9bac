"""Ranking metrics for recommender systems: each row of ``y_pred`` scores a user's items.

Example:
    >>> import torch
    >>> from miniengine.metrics.rec_sys import HitRate
    >>> hr = HitRate(top_k=2)
    >>> hr.update((torch.tensor([[0.1, 0.7, 0.4]]), torch.tensor([[1.0, 0.0, 0.0]])))
    >>> hr.compute()  # the relevant item is ranked 3rd
    [0.0]
"""

from typing import Any

from miniengine._missing import missing_name
from miniengine.metrics.rec_sys.hitrate import HitRate
from miniengine.metrics.rec_sys.ndcg import NDCG

__all__ = ["HitRate", "NDCG"]


def __getattr__(name: str) -> Any:  # any other name: a pointer to the coverage table
    raise missing_name(__name__, name)
