"""Presentation exports: self-contained HTML figures and the one-file routine report."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pamfn import report
from pamfn.explanation import Explanation, StageExplanation, stage_spans


def explanation(T: int = 24) -> Explanation:
    rng = np.random.default_rng(3)
    stages = [
        StageExplanation(i + 1, s, e, msfd_weights=rng.dirichlet(np.ones(3), size=len(s)), fusion_count=rng.integers(1, 5, len(s)))
        for i, (s, e) in enumerate(stage_spans(T, 1.28))
    ]
    return Explanation("Ball <07>", 17.25, 0.69, 25.0, {"V": 16.0, "F": 15.0, "A": 9.0}, 4, stages, T * 1.28, 1.28,
                       action="ball", judged_score=16.5, checkpoint="assets/checkpoints/ball")


def assert_self_contained(doc: str) -> None:
    assert doc.lstrip().lower().startswith("<!doctype html>")
    assert not re.search(r"<script[^>]+src=", doc), "external script"
    assert not re.search(r"<link[^>]+href=", doc), "external stylesheet"
    assert "cdn.plot.ly/plotly" not in doc.split("<body>")[1][:2000]
    assert "plotly.js v" in doc  # the library itself is inlined


def test_figure_html_inlines_plotly_and_the_figure():
    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[4, 5, 6], name="weights"))
    doc = report.figure_html(fig, "MSFD weights / ball 07")
    assert_self_contained(doc)
    assert doc.count("plotly.js v") == 1
    assert "msfd-weights-ball-07" in doc  # PNG export filename in the modebar config


def test_plotly_config_names_png_and_scales_it():
    cfg = report.plotly_config("Ball 07: MSFD")
    assert cfg["toImageButtonOptions"] == {"format": "png", "filename": "ball-07-msfd", "scale": report.PNG_SCALE}
    assert cfg["displaylogo"] is False
    assert report.export_name("Ball 07", "", "Fig. 5") == "ball-07_fig-5"


def test_routine_report_has_scores_figures_and_explanations(tmp_path):
    e = explanation()
    occlusion = pd.DataFrame({"start_s": [0.0, 5.12, 10.24], "end_s": [5.12, 10.24, 15.36], "impact": [0.1, -1.4, 0.3],
                              "se": 0.05, "noise": 0.2, "z": [0.5, -7.0, 1.5], "significant": [False, True, False]})
    doc = report.routine_report(e, occlusion=occlusion, details={"Data set": "sample_data"})
    assert_self_contained(doc)
    assert doc.count("plotly.js v") == 1  # inlined once for all figures
    assert doc.count("Plotly.newPlot(") == 4  # scores, timeline, MSFD, FusionNet counts
    assert "Ball &lt;07&gt;" in doc and "<07>" not in doc  # escaped
    assert "17.25" in doc and "16.50" in doc and "+0.75" in doc
    assert "lowered the score by 1.40 points" in doc  # the occlusion statement
    assert "<strong>0:05–0:10</strong>" in doc
    assert "sample_data" in doc
    path = report.write_report(tmp_path / "out" / "r.html", doc)
    assert path.read_text(encoding="utf-8") == doc
    assert [p.name for p in path.parent.iterdir()] == ["r.html"]


def test_report_for_a_variant_without_msfd_and_policynet():
    e = explanation()
    for s in e.stages:
        s.msfd_weights = None
        s.fusion_count = None
        s.policy_probs = None
    doc = report.routine_report(e)
    assert doc.count("Plotly.newPlot(") == 1  # only the scores
    assert "No statement stands out" in doc


def test_report_command_writes_one_html_file(tmp_path, capsys):
    from pamfn.cli import main
    from pamfn.routine import RoutineFeatures
    from tests.support.app_data import DIMS, make_checkpoint

    rng = np.random.default_rng(0)
    feats = RoutineFeatures({m: rng.normal(size=(20, d)).astype(np.float32) for m, d in DIMS.items()}, routine_id="r1")
    feats.save(tmp_path / "r1.npz")
    ckpt = make_checkpoint(tmp_path / "ckpt")
    out = tmp_path / "out" / "r1.html"
    assert main(["report", str(tmp_path / "r1.npz"), "--checkpoint", str(ckpt), "--judged", "14", "-o", str(out)]) == 0
    doc = out.read_text(encoding="utf-8")
    assert_self_contained(doc)
    assert doc.count("Plotly.newPlot(") == 5 and "14.00" in doc and "r1.npz" in doc  # with Fig. 5
    assert "Fig. 5&#x27;s definition" in doc and "trivial solution" in doc and "policy entropy" in doc
    assert "r1.html" in capsys.readouterr().out

    other = make_checkpoint(tmp_path / "other", dims={"V": 3, "F": 3, "A": 3})
    assert main(["report", str(tmp_path / "r1.npz"), "--checkpoint", str(other), "-o", str(tmp_path / "bad.html")]) == 2
    assert "feature dims do not match" in capsys.readouterr().err
    assert not (tmp_path / "bad.html").exists()


def test_the_long_steps_show_progress_on_a_terminal(tmp_path):
    """`report` (like `explain --occlusion`) shows a bar for each long step when stderr is a
    terminal: a 10-minute routine takes two minutes, which must not look like a hang."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    from pamfn.routine import RoutineFeatures
    from pamfn.serving.routines import SCAN_STEP, SUPPORT_STEP
    from tests.support.app_data import DIMS, ROOT, make_checkpoint

    rng = np.random.default_rng(0)
    RoutineFeatures({m: rng.normal(size=(40, d)).astype(np.float32) for m, d in DIMS.items()},
                    routine_id="r1").save(tmp_path / "r1.npz")
    ckpt = make_checkpoint(tmp_path / "ckpt")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # tqdm hides bars below a 0-row terminal
    proc = subprocess.Popen([sys.executable, "-m", "pamfn", "report", str(tmp_path / "r1.npz"), "--checkpoint", str(ckpt),
                             "-o", str(tmp_path / "r1.html")], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    shown = b""
    while True:  # read while it runs: a terminal holds little, and nothing once its writer is gone
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the command's end of the terminal is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert proc.wait(timeout=300) == 0, shown.decode(errors="replace")[-2000:]
    assert SUPPORT_STEP.encode() in shown and SCAN_STEP.encode() in shown
