"""``Average``'s former home: it now lives in ``miniengine.metrics.accumulation``, as in Ignite.

Kept so that ``from miniengine.metrics.average import Average`` goes on working.

Example:
    >>> from miniengine.metrics.accumulation import Average as Moved
    >>> Average is Moved
    True
"""

from miniengine.metrics.accumulation import Average

__all__ = ["Average"]
