"""One live preview update: the cutoffs (and band plan) the page's live path sends, applied to a workspace.

Shared by the tab's gradio event (the hidden "live request" textbox) and the HTTP preview route, so both answer a
request the same way: the same refusals, the same reply, the same preview.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..exr import DepthReadError
from ..render.pipeline import window_warnings
from .banding import BandSettings, settings_from_page
from .loaded import Preview
from .view import live_reply
from .workspace import Shown, StaleViewError, Workspace

log = logging.getLogger(__name__)

#: The most a live request may carry (cutoffs and a band plan are well under 10 KiB).
MAX_REQUEST_BYTES = 64 * 1024


@dataclass
class LiveUpdate:
    """The answer to one live request: the reply the page reads (``seq``, the cutoffs in use, or ``error`` /
    ``stale``) and, when it rendered, the shown file and its preview."""

    reply: dict[str, Any] = field(default_factory=dict)
    shown: Shown | None = None
    preview: Preview | None = None


#: What Suggest bands says when the window holds no gap between subjects (the panel shows it under its bar).
NO_GAPS = "No gaps found between subjects in the window: Ctrl+click the histogram to split"


def parse_request(text: str | bytes | None) -> dict[str, Any] | None:
    """A live request's JSON object, or ``None`` when it is not one (too long, not JSON, not an object)."""
    if not text or len(text) > MAX_REQUEST_BYTES:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def requested_bands(ws: Workspace, data: Mapping[str, Any]) -> BandSettings | None:
    """The bands a live request carries (``None``: unchanged).

    Raises ``StaleViewError`` for a request made in another view, ``ValueError`` for bands that make no plan."""
    if "bands" not in data:
        return None
    shown = ws.require_shown()
    if data.get("key") != shown.file.key or data.get("view") != shown.view:
        raise StaleViewError("bands for another view")
    return settings_from_page(data["bands"], shown.params.invert)


def _number(value: object, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"the {what} cutoff must be a number, got {value!r}")
    return float(value)


def live_update(ws: Workspace, data: Mapping[str, Any]) -> LiveUpdate:
    """Apply ``{"seq", "key", "view", "far", "near"[, "bands", "suggest"]}`` to ``ws`` and render its preview.

    The reply names the file view and the cutoffs in use: the ones sent, or after an ``error`` (a near cutoff
    beyond the far one) the ones kept, which the page then shows again. A request made for another file view
    (``stale``) changes nothing and renders nothing. Never raises for a problem of the request or the file: it is
    the reply's ``error``.
    """
    started = time.perf_counter()
    result = LiveUpdate({"seq": data.get("seq"), "error": None, "stale": False})
    reply = result.reply
    try:
        try:
            far, near = _number(data.get("far"), "far"), _number(data.get("near"), "near")
            bands = requested_bands(ws, data)
            shown: Shown | None = ws.set_cutoffs(far, near, data.get("key"), data.get("view"), bands)
        except StaleViewError:
            reply["stale"] = True
            shown = None
        except ValueError as exc:
            reply["error"] = str(exc)
            current = ws.shown()
            if current is not None:
                reply.update(key=current.file.key, view=current.view, far=current.file.far_value(current.params))
                reply["near"] = current.params.near_cutoff
            shown = None
        if shown is not None and data.get("suggest"):  # bands split at the histogram's gaps in the new window
            suggested = shown.file.suggest_bands(shown.params, shown.bands.mode)
            shown = ws.set_bands(replace(shown.bands, plan=suggested))
            if len(suggested.bands) < 2:
                reply["suggest_note"] = NO_GAPS
        if shown is not None:
            preview = shown.render_preview()
            reply.update(live_reply(shown, preview))
            reply["warning"] = " ".join(window_warnings(preview.window)) or None
            reply["suggested"] = bool(data.get("suggest"))
            result.shown, result.preview = shown, preview
    except (ValueError, OSError, DepthReadError) as exc:
        reply["error"] = str(exc)
    except Exception as exc:  # never a traceback on the page
        log.exception("daz_depthmap: live preview failed")
        reply["error"] = f"unexpected error ({type(exc).__name__}: {exc})"
    reply["ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result
