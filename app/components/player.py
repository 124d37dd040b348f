"""The synced player: an HTML5 video beside one plotly.js figure whose subplots share
the time axis, with one playhead (a Streamlit custom component, v2, inline HTML/JS/CSS).

The video and ``plotly.min.js`` (from the installed plotly package; no CDN) are served
by Streamlit's static file serving from ``app/static/``: :func:`publish` puts a file
there (hard link, else copy) and returns its URL. Nothing is inlined as base64.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import string
from pathlib import Path

import plotly
import streamlit as st

from pamfn import MODALITIES, MODALITY_NAMES
from pamfn.explanation import Explanation
from pamfn.serving.cache import file_stamp
from pamfn.viz.colors import MODALITY_COLORS, PLAYHEAD_COLOR, WINDOW_COLOR, rgba
from pamfn.viz.tables import readout_steps

HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "static"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

HTML = """
<div class="pamfn-box">
<div class="pamfn-player">
  <div class="pamfn-left">
    <video controls muted playsinline preload="auto"></video>
    <div class="pamfn-time"></div>
    <div class="pamfn-readout"></div>
  </div>
  <div class="pamfn-right">
    <div class="pamfn-status"></div>
    <div class="pamfn-chart"></div>
    <div class="pamfn-window"></div>
    <div class="pamfn-playhead"></div>
  </div>
</div>
</div>
"""

CSS = string.Template("""
.pamfn-player { display: flex; gap: 1.2rem; align-items: flex-start; width: 100%; }
.pamfn-left { flex: 0 0 36%; display: flex; flex-direction: column; gap: .4rem; }
.pamfn-left video { width: 100%; border-radius: .5rem; background: #000; }
.pamfn-time { font: 600 1.05rem ui-monospace, monospace; color: var(--st-text-color, #111); }
.pamfn-readout { font-size: .9rem; color: var(--st-text-color, #333); line-height: 1.9; }
.pamfn-readout .chip { display: inline-block; padding: 0 .45rem; margin: 0 .2rem; border-radius: .6rem; color: #fff; }
.pamfn-readout .c0 { background: $c0; } .pamfn-readout .c1 { background: $c1; } .pamfn-readout .c2 { background: $c2; }
.pamfn-right { flex: 1 1 auto; position: relative; min-width: 0; }
.pamfn-chart { width: 100%; cursor: col-resize; touch-action: none; }
.pamfn-status { position: absolute; top: .5rem; left: 1rem; color: #888; }
.pamfn-window { position: absolute; left: 0; top: 0; pointer-events: none; visibility: hidden;
  border: 1px dashed $window; background: $window_fill; }
.pamfn-playhead { position: absolute; left: 0; top: 0; width: 2px; margin-left: -1px; background: $playhead;
  pointer-events: none; visibility: hidden; will-change: transform; }
.pamfn-box { container-type: inline-size; width: 100%; }
@container (max-width: 760px) {  /* a narrow page: the video above the charts, both readable */
  .pamfn-player { flex-direction: column; align-items: stretch; }
  .pamfn-left { flex: none; width: 100%; max-width: 520px; align-self: center; }
}
""").substitute(
    {f"c{i}": MODALITY_COLORS[m] for i, m in enumerate(MODALITIES)},
    window=WINDOW_COLOR, window_fill=rgba(WINDOW_COLOR, 0.07), playhead=PLAYHEAD_COLOR,
)

_LOADER = (HERE / "load_plotly.js").read_text(encoding="utf-8")
_player = st.components.v2.component(
    "pamfn_synced_player", html=HTML, css=CSS, js=_LOADER + (HERE / "player.js").read_text(encoding="utf-8"),
    isolate_styles=False,
)
_preloader = st.components.v2.component(
    "pamfn_plotly_preload", js=_LOADER + "export default function ({ data }) { loadPlotly(data.url).catch(() => {}); }\n",
    isolate_styles=False,
)


def _base_url() -> str:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/app/static" if base else "/app/static"


def sweep_published(folder: Path) -> int:
    """Delete what ``folder`` holds alone: hard links whose source is gone (a removed upload,
    a data set deleted), copies (a source on another file system) and half-written files.
    Whatever is shown again is published again. Returns how many files went."""
    gone = 0
    for entry in folder.iterdir() if folder.is_dir() else []:
        try:
            if entry.is_file() and (entry.name.endswith(".part") or entry.stat().st_nlink == 1):
                entry.unlink()
                gone += 1
        except OSError:  # another process swept it first
            continue
    return gone


@st.cache_resource(show_spinner=False)
def _swept(folder: str) -> int:
    """:func:`sweep_published` once per process, before the first file is published there."""
    return sweep_published(Path(folder))


def publish(path: Path, folder: str = "media") -> str:
    """Make ``path`` available under ``app/static/<folder>/`` and return its URL.

    The name carries a hash of the source path, size and time, so a changed file gets a
    new URL. A hard link avoids copying; across file systems the file is copied. The
    folder is swept once per process (:func:`sweep_published`), so it does not keep the
    bytes of every video ever shown.
    """
    path = Path(path).resolve()
    digest = hashlib.sha1(file_stamp(path).encode()).hexdigest()[:16]
    name = f"{digest}{path.suffix.lower()}"
    target = STATIC / folder / name
    _swept(str(target.parent))
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{name}.{os.getpid()}.part")
        try:
            os.link(path, tmp)
        except OSError:
            shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    return f"{_base_url()}/{folder}/{name}"


def plotly_url() -> str:
    """URL of the plotly.min.js shipped in the installed plotly package."""
    return publish(PLOTLY_JS, folder="js")


def preload_plotly() -> None:
    """Start loading plotly.js in the browser now, while the server still computes the
    player's figure (mount early on the page; it draws nothing)."""
    _preloader(key="pamfn_plotly_preload", data={"url": plotly_url()}, height=0)


def synced_player(
    figure_json: str,
    video: Path,
    expl: Explanation,
    key: str,
    seek: dict[str, float] | None = None,
    window: tuple[float, float] | None = None,
    on_time_change=lambda: None,
):
    """Mount the player for ``figure_json`` (a plotly figure as JSON whose x axis is the
    routine's time in seconds), ``seek`` ({"t", "nonce"}: a new nonce seeks the video to t)
    and ``window`` (start, end) shaded on the charts as the keyframes' window; returns the component result whose ``time`` is the video's
    current time in seconds after the last pause or seek (None before any)."""
    data = {
        "key": f"{expl.routine_id}|{video}",
        "figure": figure_json,
        "video_url": publish(video),
        "plotly_url": plotly_url(),
        "duration": float(expl.duration_s),
        "readout": readout_steps(expl),
        "modality_names": [MODALITY_NAMES[m] for m in MODALITIES],
        "seek": seek,
        "window": list(window) if window else None,
    }
    return _player(key=key, data=data, on_time_change=on_time_change, height="content")
