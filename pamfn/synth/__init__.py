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

Names are imported lazily (PEP 562), so reading the configuration does not load OpenCV.
"""

from __future__ import annotations

from pamfn.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "pamfn.synth.config": ("ACTIONS", "BUNDLED", "GENERATOR_VERSION", "TINY", "SynthConfig"),
    "pamfn.synth.dataset": ("Routine", "RoutineSpec", "build_dataset", "check_dataset", "generate_routine", "make_routine",
                            "routine_specs"),
    "pamfn.synth.plan": ("RoutinePlan", "plan_routine"),
    "pamfn.synth.render": ("render_frames",),
})
