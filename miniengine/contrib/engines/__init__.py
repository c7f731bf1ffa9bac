"""Ignite's ``ignite.contrib.engines``: ``common`` (ready-made handler setups) and ``tbptt``.

Example:
    >>> from miniengine.contrib.engines import Tbptt_Events, create_supervised_tbptt_trainer
    >>> from miniengine.contrib.engines.common import setup_common_training_handlers
"""

from __future__ import annotations

from miniengine.contrib.engines.tbptt import Tbptt_Events, create_supervised_tbptt_trainer

__all__ = ["Tbptt_Events", "create_supervised_tbptt_trainer"]
