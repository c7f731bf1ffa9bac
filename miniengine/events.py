"""Old home of the events: ``miniengine.events`` is ``miniengine.engine.events``.

Kept so that code written for miniengine 0.1 keeps working; new code (and code ported from
Ignite's ``ignite.engine.events``) imports ``miniengine.engine.events``.

Example:
    >>> from miniengine.events import Events
    >>> import miniengine.engine.events
    >>> Events is miniengine.engine.events.Events
    True
"""

from miniengine.engine.events import (  # noqa: F401
    Between,
    CallableEventWithFilter,
    CountFilter,
    EventEnum,
    Events,
    EventsList,
    Every,
    Once,
    RemovableEventHandle,
    State,
)
from miniengine.engine.events import __all__ as __all__
