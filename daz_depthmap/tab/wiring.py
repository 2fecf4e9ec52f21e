"""The tab's events: one builder used by the standalone app and by the WebUI.

:func:`build_tab` returns a ``gr.Blocks``: the components (:mod:`.layout`), the handlers (:mod:`.handlers`) and the
events between them (below). gradio 3/4 differences are in :mod:`.compat`. The cutoff slider is not wired to the
server directly: the page scripts (``javascript/``) watch it, the near cutoff and the histogram, and send the
latest values through a hidden "live request" textbox only when the previous preview has arrived.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from ..session.store import SessionStore
from ..session.workspace import Workspace
from . import compat
from .contract import TabContext, TabHandles
from .handlers import TabHandlers
from .layout import TabLayout, build_layout

__all__ = ["TabHandlers", "TabLayout", "build_tab", "session_store"]


def session_store(ctx: TabContext) -> SessionStore:
    """A store of sessions whose workspaces start with the context's defaults and pixel limit."""
    return SessionStore(lambda: Workspace(ctx.defaults, ctx.max_pixels))


def build_tab(ctx: TabContext, initial_files: Sequence[str | Path] = (), theme: Any = None) -> gr.Blocks:
    """Build the tab.

    Parameters
    ----------
    ctx:
        Output folder, default options, size limit, element id prefix, the host's extra controls and its store of
        sessions (a new one, removed at exit, when it has none).
    initial_files:
        Files loaded into every new session when the page opens (the standalone app's command line).
    theme:
        A gradio theme for a standalone page (a host's page keeps its own).
    """
    sessions = ctx.sessions
    if sessions is None:
        sessions = session_store(ctx)
        atexit.register(sessions.close)
    with gr.Blocks(analytics_enabled=False, title="DAZ depth map", theme=theme) as blocks:
        host: Callable[[Any, Any], None] | None = None
        if ctx.add_controls is not None:
            add = ctx.add_controls
            host = lambda session, status: add(TabHandles(session, status, sessions))  # noqa: E731
        layout = build_layout(ctx, host)
        handlers = TabHandlers(layout, ctx, sessions, [Path(f) for f in initial_files])
        _wire(handlers, ctx.elem_prefix)
        if initial_files:
            # Only with files to show: the components start as the empty view, and a page-load event answering
            # after the upload of a file dropped at once would replace that upload's session with its own.
            blocks.load(handlers.guard(handlers.on_page_load), [layout.session], view_outputs(layout))
    return blocks


def view_outputs(ui: TabLayout) -> list[Any]:
    """The components :meth:`TabHandlers.view` sets, and the status line.

    Not the upload box: gradio 3 drops a file's upload event when the box is the output of an event still pending
    (a file dropped while another event runs was lost); only the upload event itself clears it.
    """
    return [
        ui.session,
        ui.files,
        ui.remove,
        ui.pick,
        ui.pick_far,
        ui.pick_near,
        ui.info,
        ui.channel,
        *ui.options.values(),
        ui.seed,
        ui.bits,
        ui.cutoff,
        ui.near,
        ui.histogram_data,
        ui.preview_depth,
        ui.preview_mask,
        ui.depth_file,
        ui.mask_file,
        ui.regions_file,
        ui.normal_file,
        ui.beauty_file,
        ui.look,
        ui.normal_box,
        ui.normal_convention,
        ui.normal_background,
        ui.normal_from_depth,
        ui.focal_mm,
        ui.film_mm,
        ui.preview_normal,
        ui.legend,
        ui.normal_info,
        ui.preview_beauty,
        ui.log,
        ui.status,
    ]


def _wire(h: TabHandlers, p: str) -> None:
    ui = h.ui
    view = view_outputs(ui)
    files = [ui.depth_file, ui.mask_file, ui.regions_file, ui.normal_file, ui.beauty_file]
    previews = [ui.session, ui.preview_depth, ui.preview_mask, *files, ui.seed, ui.status]
    ui.upload.upload(h.guard(h.on_upload), [ui.session, ui.upload], [*view, ui.upload])
    ui.files.input(h.guard(h.on_select), [ui.session, ui.files], view)
    ui.remove.click(h.guard(h.on_remove), [ui.session], view)
    ui.channel.input(h.guard(h.on_channel), [ui.session, ui.channel], view)
    options = [ui.session, *(ui.options[name] for name in h.map_options), ui.seed, ui.bits]
    # no progress overlay: a pending status line would grow and push the buttons below it away from the pointer
    quiet = {"show_progress": "hidden"}
    for component in (*(ui.options[name] for name in h.map_options), ui.bits):
        component.input(h.guard(h.on_options), options, previews, **quiet)
    compat.on_commit(ui.seed, h.guard(h.on_options), options, previews, **quiet)
    ui.options["invert"].input(h.guard(h.on_invert), [ui.session, ui.options["invert"]], view)
    live_outputs = [ui.session, ui.preview_depth, ui.preview_mask, *files, ui.live_done]
    look_outputs = [ui.session, ui.preview_depth, ui.preview_mask, *files, ui.status]
    ui.look.input(h.guard(h.on_look), [ui.session, ui.look], look_outputs, **quiet)
    ui.live_request.input(h.on_live, [ui.session, ui.live_request], live_outputs, queue=False)
    ui.live_done.change(None, [ui.live_done], None, **compat.js(f"(v) => dazDepthmap.live.done('{p}', v)"))
    ui.histogram_data.change(None, [ui.histogram_data], None, **compat.js(f"(v) => dazDepthmap.fileView('{p}', v)"))
    pick = h.guard(h.on_pick)  # gradio passes gr.SelectData by the annotation, which the guard keeps
    pick_outputs = [ui.session, ui.pick, ui.picked, ui.pick_far, ui.pick_near, ui.status]
    ui.preview_depth.select(pick, [ui.session], pick_outputs)
    ui.preview_mask.select(pick, [ui.session], pick_outputs)
    ui.pick_far.click(None, [ui.picked], None, **compat.js(f"(v) => dazDepthmap.setCutoff('{p}', 'far', v)"))
    ui.pick_near.click(None, [ui.picked], None, **compat.js(f"(v) => dazDepthmap.setCutoff('{p}', 'near', v)"))
    ui.save.click(h.guard(h.on_save), [ui.session], [ui.session, *files, ui.log, ui.status])
    ui.process_all.click(_process_all(h), [ui.session, ui.process_how], [ui.session, ui.log, ui.status])
    normal_inputs = [ui.normal_convention, ui.normal_background, ui.normal_from_depth, ui.focal_mm, ui.film_mm]
    normal_outputs = [ui.session, ui.normal_box, *normal_inputs, ui.preview_normal, ui.legend, ui.normal_info]
    normal_outputs += [ui.preview_beauty, ui.log, ui.status]
    for component in normal_inputs[:3]:
        component.input(h.guard(h.on_normal_options), [ui.session, *normal_inputs], normal_outputs)
    for component in normal_inputs[3:]:
        compat.on_commit(component, h.guard(h.on_normal_options), [ui.session, *normal_inputs], normal_outputs)
    ui.export_recipe.click(h.guard(h.on_export_recipe), [ui.session], [ui.session, ui.recipe_file, ui.log, ui.status])
    ui.import_recipe.upload(h.guard(h.on_import_recipe), [ui.session, ui.import_recipe], view)


def _process_all(h: TabHandlers) -> Callable[..., Any]:
    """``on_process_all`` with a ``gr.Progress`` default argument (gradio finds progress bars that way)."""

    def process_all(token: Any, how: str, progress: Any = gr.Progress()) -> Any:  # noqa: B008
        return h.on_process_all(token, how, progress)

    return h.guard(process_all)
