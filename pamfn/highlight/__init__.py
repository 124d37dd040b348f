"""Highlight detection (the paper's Section IV-G, Table IX): PAMFN without temporal pooling,
a per-segment classification head, a per-segment loss, mean average precision per topic
(here: per action) and overall, with the modality-specific branches as baselines.

``labels``: segment-level highlight labels (one table: video, segment, label), and the
generated task where the highlights are the elements of the bundled benchmark.
``metrics``: average precision per video, mAP per topic and overall. ``evaluate``: the
labels carried beside a split's features, a detector's mAP on them. ``train``: the
two-phase training of the branches and of PAMFN on the per-segment loss. ``predict``: one
routine's highlight probability per segment.
"""
