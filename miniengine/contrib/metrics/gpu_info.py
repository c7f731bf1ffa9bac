"""Ignite's old path of ``miniengine.metrics.gpu_info``, kept for ported code.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from miniengine.contrib.metrics.gpu_info import GpuInfo
    >>> import miniengine.metrics
    >>> GpuInfo is miniengine.metrics.GpuInfo
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.gpu_info import GpuInfo

__all__ = ["GpuInfo"]

_warn_moved(__name__, "miniengine.metrics.gpu_info")
