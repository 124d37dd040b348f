"""Ground truth of a routine, never given to a model: every element with its kind and
value, every loss of balance, drop, stretch of strong tremor, off-beat or off-energy
section and degradation stretch, as rows of ``events.csv``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from pamfn.groundtruth import EVENT_COLUMNS
from pamfn.groundtruth import KINDS as EVENT_KINDS
from pamfn.synth.motion import Motion
from pamfn.synth.plan import RoutinePlan
from pamfn.synth.scoring import element_value


def _row(rid: str, kind: str, start: float, end: float, **detail: object) -> dict[str, str]:
    text = ";".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in detail.items())
    return {"routine_id": rid, "kind": kind, "start_s": f"{start:.2f}", "end_s": f"{end:.2f}", "detail": text}


def routine_events(plan: RoutinePlan, motion: Motion) -> list[dict[str, str]]:
    """The events of one routine, in time order (ties: in EVENT_KINDS order)."""
    rid, rows = plan.routine_id, []
    for el in plan.elements:
        rows.append(_row(rid, el.kind, el.start_s, el.end_s, value=element_value(el), amplitude=el.amplitude,
                         accent_s=el.accent_s))  # fmt: skip
        if el.stumble > 0:
            rows.append(_row(rid, "loss_of_balance", el.end_s, el.end_s + 1.0, severity=el.stumble))
    for missed, picked_up in motion.drops_s:
        rows.append(_row(rid, "drop", missed, picked_up))
    for st in plan.tremor_stretches:
        rows.append(_row(rid, "tremor", st.start_s, st.end_s, factor=st.strength, base_deg=plan.tremor_deg))
    for sec in plan.sections:
        if not sec.in_sync:
            rows.append(_row(rid, "off_beat", sec.start_s, sec.end_s, own_bpm=plan.performer_tempo_bpm,
                             music_bpm=plan.music.tempo_bpm))  # fmt: skip
        if not sec.follows_energy:
            rows.append(_row(rid, "off_energy", sec.start_s, sec.end_s, music=sec.energy, movement=sec.move_energy))
    for d in plan.degradations:
        rows.append(_row(rid, "degradation", d.start_s, d.end_s, modality=d.modality, type=d.kind,
                         strength=d.strength))  # fmt: skip
    return sorted(rows, key=lambda r: (float(r["start_s"]), EVENT_KINDS.index(r["kind"])))


def events_csv(rows: Iterable[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EVENT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
