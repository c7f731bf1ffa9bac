"""Offline stand-in for torchvision used by the miniengine/Ignite example harness.

Deterministic synthetic data of the right shapes; identical for both runs
(data are generated from fixed private torch.Generator seeds, never from the
global RNG, so creating a dataset does not perturb the scripts' random state).
"""

__version__ = "0.0.0+harness-stub"
from . import datasets, models, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]
