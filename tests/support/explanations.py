"""A made-up Explanation with random traces on the paper's stage spans."""

from __future__ import annotations

import numpy as np

from pamfn.explanation import Explanation, StageExplanation, stage_spans


def make_explanation(T: int = 40, K: int = 4, seconds: float = 1.28, seed: int = 0, judged: float | None = 18.0) -> Explanation:
    rng = np.random.default_rng(seed)
    stages = []
    for i, (start, end) in enumerate(stage_spans(T, seconds), start=1):
        n = len(start)
        stages.append(StageExplanation(
            stage=i, start_s=start, end_s=end, msfd_weights=rng.dirichlet(np.ones(3), size=n),
            policy_probs=rng.dirichlet(np.ones(K), size=n), fusion_count=rng.integers(1, K + 1, size=n),
            fusion_weights=rng.dirichlet(np.ones(3), size=(n, K)), cmfd_attention=rng.dirichlet(np.ones(K), size=n)))
    return Explanation(routine_id="r1", score=17.3, score_norm=17.3 / 25, label_scale=25.0,
                       branch_scores={"V": 15.0, "F": 16.2, "A": 12.1}, K=K, stages=stages, duration_s=T * seconds,
                       segment_seconds=seconds, judged_score=judged, action="ball")
