"""Suite-wide set-up: this process's allocator thresholds, as the ``coopetition`` command sets
its own (:mod:`coopetition.engine.allocator`), so in-process MASCOT and preparation tests run as
the command runs them.
"""

from coopetition.engine.allocator import tune_allocator

tune_allocator()
