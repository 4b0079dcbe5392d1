"""coopetition: a peer-to-peer protocol engine for coopetitive learning of linear models.

The import root holds the command-line front end; the layers live in ``coopetition.engine``
(party runtime, bus, wire format, state machines), ``coopetition.transports``,
``coopetition.protocols`` and ``coopetition.sims``.
"""

__version__ = "0.1.0"
