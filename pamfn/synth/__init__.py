"""The generated sample benchmark: routines of an articulated performer with an apparatus
(ball, clubs, hoop, ribbon), set to generated music, scored by a documented formula of
difficulty, execution and musicality (docs/sample-benchmark.md).

Public API::

    SynthConfig, BUNDLED, TINY, ACTIONS, GENERATOR_VERSION
    plan_routine(routine_id, action, seed, cfg) -> RoutinePlan
    make_routine(spec, cfg) -> Routine          # plan, motion, music, soundtrack, scores
    render_frames(plan, motion, size, fps)      # iterator of HxWx3 uint8 RGB frames
    routine_specs(cfg), generate_routine(spec, cfg, out_dir), build_dataset(out_dir, cfg, workers)
    check_dataset(data_dir, routine_ids=None, count=1, media=False) -> DatasetCheck (problems, rounded)
"""

from pamfn.synth.config import ACTIONS, BUNDLED, GENERATOR_VERSION, TINY, SynthConfig
from pamfn.synth.dataset import (
    Routine,
    RoutineSpec,
    build_dataset,
    check_dataset,
    generate_routine,
    make_routine,
    routine_specs,
)  # fmt: skip
from pamfn.synth.plan import RoutinePlan, plan_routine
from pamfn.synth.render import render_frames

__all__ = [
    "ACTIONS", "BUNDLED", "GENERATOR_VERSION", "TINY", "Routine", "RoutinePlan", "RoutineSpec", "SynthConfig",
    "build_dataset", "check_dataset", "generate_routine", "make_routine", "plan_routine", "render_frames",
    "routine_specs",
]  # fmt: skip
