"""Suite-wide set-up: the allocator thresholds the ``coopetition`` command uses.

The suite's MASCOT, preparation and party-process tests then run as the command runs them
(and spawn their processes with the same environment); see :mod:`coopetition.engine.allocator`.
"""

from coopetition.engine.allocator import tune_allocator

tune_allocator()
