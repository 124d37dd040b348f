// Synced player: an HTML5 video and one plotly.js figure whose subplots share the time
// axis in seconds. Playing moves a playhead over every subplot (requestAnimationFrame,
// no server round-trip); pressing or dragging on the charts seeks the video. The
// current time goes back to Python only on pause and at the end of a seek.
// loadPlotly comes from load_plotly.js, prepended by player.py.

function clock(t) {
  const s = Math.max(0, t);
  const m = Math.floor(s / 60);
  return m + ":" + (s - 60 * m).toFixed(1).padStart(4, "0");
}

function readoutText(steps, names, t) {
  const step = steps.find((s) => t >= s.start && t < s.end) || steps[steps.length - 1];
  if (!step) return "";
  const parts = names.map((n, i) => `<span class="chip c${i}">${n} ${step.w[i].toFixed(2)}</span>`);
  const fused = step.count == null ? "" : ` · <b>${step.count}</b> FusionNet${step.count === "1" ? "" : "s"}`;
  return `stage ${step.stage} MSFD ${parts.join("")}${fused}`;
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector(".pamfn-player");
  const video = root.querySelector("video");
  const chart = root.querySelector(".pamfn-chart");
  const head = root.querySelector(".pamfn-playhead");
  const shade = root.querySelector(".pamfn-window");
  const time = root.querySelector(".pamfn-time");
  const readout = root.querySelector(".pamfn-readout");
  const status = root.querySelector(".pamfn-status");
  const st = root.__pamfn || (root.__pamfn = { key: null, figure: null, seekNonce: null, raf: 0, dragging: false });

  st.data = data;
  const axis = () => (chart._fullLayout ? chart._fullLayout.xaxis : null);
  const timeAt = (clientX) => {
    const xa = axis();
    const rect = chart.getBoundingClientRect();
    const t = xa.p2l(clientX - rect.left - xa._offset);
    return Math.min(Math.max(t, 0), st.data.duration);
  };
  const draw = () => {
    const xa = axis();
    const t = video.currentTime || 0;
    if (xa) {
      const size = chart._fullLayout._size;
      head.style.transform = `translateX(${xa._offset + xa.l2p(Math.min(t, st.data.duration))}px)`;
      head.style.top = size.t + "px";
      head.style.height = size.h + "px";
      head.style.visibility = "visible";
      const w = st.data.window;
      if (w) {
        const x0 = xa._offset + xa.l2p(w[0]);
        shade.style.left = x0 + "px";
        shade.style.width = Math.max(2, xa.l2p(w[1]) - xa.l2p(w[0])) + "px";
        shade.style.top = size.t + "px";
        shade.style.height = size.h + "px";
      }
      shade.style.visibility = w ? "visible" : "hidden";
    }
    time.textContent = clock(t) + " / " + clock(st.data.duration);
    readout.innerHTML = readoutText(st.data.readout, st.data.modality_names, t);
    root.dataset.playhead = String(t);
  };
  const loop = () => {
    draw();
    st.raf = video.paused ? 0 : requestAnimationFrame(loop);
  };
  const report = () => {
    root.dataset.reports = String(Number(root.dataset.reports || 0) + 1);
    setStateValue("time", Math.round(video.currentTime * 100) / 100);
  };
  const seek = (t) => {
    video.currentTime = t;
    draw();
  };

  if (st.key !== data.key) {
    st.key = data.key;
    root.dataset.key = data.key;
    if (video.getAttribute("src") !== data.video_url) video.setAttribute("src", data.video_url);
    video.onplay = () => { if (!st.raf) st.raf = requestAnimationFrame(loop); };
    video.onpause = () => { draw(); report(); };
    video.onseeked = () => { draw(); if (!st.dragging && video.paused) report(); };
    video.onloadedmetadata = draw;
    chart.onpointerdown = (e) => {
      if (!axis()) return;
      st.dragging = true;
      chart.setPointerCapture(e.pointerId);
      seek(timeAt(e.clientX));
    };
    chart.onpointermove = (e) => { if (st.dragging) seek(timeAt(e.clientX)); };
    chart.onpointerup = (e) => {
      if (!st.dragging) return;
      st.dragging = false;
      chart.releasePointerCapture(e.pointerId);
      report();
    };
  }
  if (st.figure !== data.figure) {
    st.figure = data.figure;
    if (!chart._fullLayout) status.textContent = "Loading charts…";
    loadPlotly(data.plotly_url)
      .then((Plotly) => {
        const fig = JSON.parse(data.figure);
        return Plotly.react(chart, fig.data, fig.layout, { displayModeBar: false, responsive: true, scrollZoom: false });
      })
      .then(() => {
        status.textContent = "";
        if (!root.dataset.ready) chart.on("plotly_afterplot", draw);
        root.dataset.ready = "1";
        draw();
      })
      .catch((err) => { status.textContent = String(err); });
  }
  if (chart._fullLayout) draw();
  if (data.seek && data.seek.nonce !== st.seekNonce) {
    st.seekNonce = data.seek.nonce;
    seek(data.seek.t);
  }
  const onResize = () => draw();
  window.addEventListener("resize", onResize);
  return () => window.removeEventListener("resize", onResize);
}
