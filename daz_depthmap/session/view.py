"""What the page is told about the file shown: its info lines, and the JSON the histogram and live path read.

Pure: built from a :class:`~daz_depthmap.session.workspace.Shown` snapshot and a preview. The tab's handlers and
the HTTP preview route send the same view model.
"""

from __future__ import annotations

import math
from typing import Any

from .banding import SettledBands, band_colour
from .loaded import Preview, round_to_step
from .workspace import Shown


def format_depth(value: float) -> str:
    """A depth for messages: 4 significant digits at least, no exponent for ordinary scene units."""
    return f"{value:.6g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


def file_info(shown: Shown) -> str:
    """What a user wants to know about the file: size, channel, depth range, background, reader notes (warnings
    included, so they can be read again after switching files), the suggestion and where outputs go by name."""
    entry, stats = shown.file, shown.file.stats
    share = stats.invalid_count / max(entry.width * entry.height, 1) * 100
    lines = [
        f"{entry.width} × {entry.height} px · channel {entry.channel} · depth "
        f"{format_depth(stats.nearest)} – {format_depth(stats.farthest)} · "
        f"{stats.invalid_count:,} background px ({share:.2g} %)",
    ]
    if shown.parts.scene is not None:
        lines.append(f"Canvas set {shown.parts.scene}: {shown.parts.describe()}")
        lines.extend(shown.parts.notes)
    lines.extend(n for n in entry.notes if not n.startswith(f"channel {entry.channel}"))
    lines.append(f"Suggested cutoff: {entry.suggestion(shown.params.invert).reason}")
    lines.append(f"Saves as {shown.stem}.depth.png")
    return "\n".join(lines)


def band_view(settled: SettledBands) -> dict[str, Any]:
    """The user's bands as the page's band panel and histogram draw them: the plan (levels in use written in),
    how levels are given, per band its sampled pixel share, colour and whether it lies inside the cutoffs, and
    the problem that keeps the bands from being used."""
    settings = settled.settings
    plan = settings.plan
    total = max(sum(settled.counts), 1)
    return {
        "splits": list(plan.splits),
        "bands": [
            {
                "levels": band.levels,
                "label": band.label,
                "colour": band.colour,
                "shown_colour": band_colour(plan, i),
                "region": band.region,
                "locked": band.locked,
                "share": settled.counts[i] / total,
                "active": settled.active[i],
            }
            for i, band in enumerate(plan.bands)
        ],
        "mode": settings.mode.value,
        "split_parts": settings.split_parts,
        "min_area": settings.min_area,
        "region_size": list(settings.region_size) if settings.region_size else None,
        "total": sum(band.levels for band, active in zip(plan.bands, settled.active, strict=True) if active),
        "problem": settled.problem,
        "notes": settled.notes(),
        "regions": settled.regions,
    }


def file_view(shown: Shown, settled: SettledBands | None = None) -> dict[str, Any]:
    """The histogram, slider and band data of the file shown (JSON-ready); ``key`` and ``view`` name the view,
    and every live request the page makes carries them back. ``settled``: the shown file's bands as its preview
    settled them (settled here when not given)."""
    entry, params = shown.file, shown.params
    stats, hist = entry.stats, entry.histogram
    suggestion = entry.suggestion(params.invert)
    settled = settled or entry.settle(params, shown.bands)
    far = entry.far_value(params)
    lo = math.floor(min(stats.nearest, far, params.near_cutoff or far) / entry.step) * entry.step
    hi = math.ceil(max(stats.farthest, far, params.near_cutoff or far) / entry.step) * entry.step
    return {
        "key": entry.key,
        "view": shown.view,
        "lo": float(hist.edges[0]),
        "hi": float(hist.edges[-1]),
        "counts": [int(c) for c in hist.counts],
        "valid": stats.valid_count,
        "invalid": stats.invalid_count,
        "nearest": stats.nearest,
        "farthest": stats.farthest,
        "far": far,
        "near": params.near_cutoff,
        "invert": params.invert,
        "suggestion": None if suggestion.cutoff is None else round_to_step(suggestion.cutoff, entry.step / 10),
        "suggestion_reason": suggestion.reason,
        "step": entry.step,
        "slider_min": round_to_step(lo, entry.step),
        "slider_max": round_to_step(hi, entry.step),
        "bands": band_view(settled),
        "look": shown.look,
    }


def empty_view(view: int) -> dict[str, Any]:
    """The view model when nothing is loaded."""
    return {"key": None, "view": view}


def live_reply(shown: Shown, preview: Preview) -> dict[str, Any]:
    """The answer to a live cutoff request: the view it belongs to, the cutoffs in use and what they clip."""
    window = preview.window
    return {
        "key": shown.file.key,
        "view": shown.view,
        "far": window.far,
        "near": window.near,
        "clipped_far": preview.clipped_far,
        "clipped_near": preview.clipped_near,
        "bands": band_view(preview.bands),
        "look": preview.look,
        "region_notes": list(preview.region_notes),
    }
