"""The serving layer: what every consumer of trained checkpoints shares (the CLI's
explain, report and evaluate commands, and the dashboard).

- :class:`CheckpointSet` (``checkpoints``): which checkpoint serves an action, parsed from
  ``index.json`` here and nowhere else, each checkpoint loaded once, and a ``version`` of
  the folder's files for every cache key that depends on the model.
- ``scorer``: the one eval-mode inference path (explanations, occlusion, predictions,
  evaluation all call it).
- :class:`PredictionJob` (``predictions``): every routine of a catalog scored once in a
  background thread, the finished table kept on disk.

Modules import torch lazily, so ``CheckpointSet`` can be built before torch is loaded.
"""

from pamfn.serving.checkpoints import CheckpointSet, read_index, write_index

__all__ = ["CheckpointSet", "read_index", "write_index"]
