"""``pamfn report``: a routine's report (scores, figures, explanations) as ONE HTML file.

    python -m pamfn report FEATURES.npz --checkpoint CKPT [--action ball] [--judged 17.5] -o report.html

The file is self-contained (plotly.js inlined, no CDN): it opens offline and can be
mailed or put beside slides. The explanations include each window's score impact
(occlusion: the window swapped with the routine's other windows and re-scored) unless ``--no-occlusion``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from pamfn.commands.explain import add_routine_arguments, files_read
from pamfn.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="write a routine's report (scores, figures, explanations) as one HTML file",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_routine_arguments(parser)
    parser.add_argument("--judged", type=float, help="the judges' score, shown beside PAMFN's")
    parser.add_argument("--no-occlusion", action="store_true", help="skip the score impact of each window (faster)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the HTML file to write")
    parser.set_defaults(func=run)


def check_judged(judged: float | None, label_scale: float) -> None:
    """ConfigError unless the judges' score is None or a finite score on the checkpoint's scale."""
    if judged is not None and not (math.isfinite(judged) and 0.0 <= judged <= label_scale):
        raise ConfigError(f"--judged {judged:g} is not a score on the checkpoint's scale, 0 to {label_scale:g}")


def run(args: argparse.Namespace) -> int:
    from pamfn.atomic import refuse_overwriting_inputs, writable_target
    from pamfn.commands.explain import step_bar
    from pamfn.explain import explain_routine
    from pamfn.occlusion import occlusion_scan
    from pamfn.report import routine_report, write_report
    from pamfn.routine import RoutineFeatures
    from pamfn.serving import CheckpointSet
    from pamfn.serving.routines import SCAN_STEP, SUPPORT_STEP

    refuse_overwriting_inputs(args.output, *files_read(args))  # before the work, not after it
    writable_target(args.output)
    features = RoutineFeatures.load(args.features)
    loaded, action = CheckpointSet(args.checkpoint, args.device).resolve(args.action)
    check_judged(args.judged, loaded.label_scale)
    with step_bar(SUPPORT_STEP) as on_batch:
        explanation = explain_routine(loaded, features, action=action, judged_score=args.judged, support=True,
                                      on_batch=on_batch)
    occlusion = None
    if not args.no_occlusion:
        with step_bar(SCAN_STEP) as on_batch:
            occlusion = occlusion_scan(loaded.model, features, loaded.label_scale, device=args.device, on_batch=on_batch)
    details = {"Features": args.features.name, "Extractors": ", ".join(f"{m}: {v}" for m, v in features.extractors.items()) or "-"}
    path = write_report(args.output, routine_report(explanation, occlusion=occlusion, details=details))
    print(f"{path}: report of {explanation.routine_id} (score {explanation.score:.2f} / {explanation.label_scale:g})")
    return 0
