"""The tab: one builder used by the standalone app and by the WebUI.

``build_tab(ctx)`` returns a ``gr.Blocks``. Each browser tab gets its own :class:`~daz_depthmap.workspace.Workspace`
in a ``gr.State``; the handlers below only translate between components and workspace calls, and every one of
them turns problems into a message in the tab (never a traceback).

The cutoff slider is not wired to the server directly: ``javascript/daz_depthmap_live.js`` watches it (and the
near cutoff, and the histogram drawn by ``daz_depthmap_histogram.js``) and sends the latest value through a hidden
"live request" textbox only when the previous preview has arrived, so a drag never queues stale renders.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from .context import FullMaps, TabContext, TabHandles
from .exr import DepthReadError
from .workspace import Preview, Workspace, format_depth, round_to_step

log = logging.getLogger(__name__)

_GRADIO_MAJOR = int(gr.__version__.split(".")[0])

BITS_CHOICES = ("8-bit", "16-bit")
PICK_HINT = "Click the preview to read the depth under the cursor."
#: The option checkboxes, two per row: (component key, DepthParams field, label, hint).
CHECKBOX_ROWS = (
    (
        ("compress", "compress_map", "Compress map", "Spread distinct depths evenly"),
        ("mask", "mask", "Mask", "Also write a mask PNG"),
    ),
    (
        ("invert", "invert", "Invert", "Input grows toward camera"),
        ("noise", "noise", "Noise", "Random greys in the far plane"),
    ),
)
#: Height of the preview images on the page, in CSS pixels.
PREVIEW_HEIGHT = 520

HISTOGRAM_HTML = """
<div class="dazdm-histo">
  <div class="dazdm-histo-bar">
    <span class="dazdm-histo-title">Depth histogram</span>
    <span class="dazdm-histo-caption"></span>
    <label class="dazdm-log-label"><input type="checkbox" class="dazdm-log" checked> log counts</label>
    <button type="button" class="dazdm-use-suggestion" disabled>Use suggestion</button>
  </div>
  <div class="dazdm-histo-plot">
    <canvas class="dazdm-histo-canvas" aria-label="Depth histogram: click or drag to set the far cutoff"></canvas>
    <div class="dazdm-tip" hidden></div>
    <div class="dazdm-histo-empty">Drop depth .exr files to see their histogram</div>
  </div>
</div>
"""


def js_listener(code: str) -> dict[str, str]:
    """The keyword that gives an event a client-side function: ``_js`` in gradio 3, ``js`` in gradio 4."""
    return {"_js" if _GRADIO_MAJOR < 4 else "js": code}


def _md(text: str) -> str:
    """Plain text for a Markdown component: markup characters escaped, lines kept."""
    escaped = re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)
    return "  \n".join(escaped.splitlines())


def _problem(lines: Sequence[str]) -> str:
    return _md("\n".join(f"⚠ {line}" for line in lines))


def _upload_sources(files: Any) -> list[tuple[str, str]]:
    """(path, original name) of uploaded files: gradio 3 gives temp-file objects, gradio 4 paths."""
    if files is None:
        return []
    items = files if isinstance(files, (list, tuple)) else [files]
    sources = []
    for item in items:
        path = str(getattr(item, "name", item))
        name = getattr(item, "orig_name", None) or Path(path).name
        sources.append((path, Path(str(name)).name))
    return sources


def _workspace(session: Any) -> Workspace:
    """The session's workspace; raises ``ValueError`` for the user when nothing was ever loaded."""
    if not isinstance(session, Workspace):
        raise ValueError("no file loaded: drop one or more depth .exr files above first")
    return session


def session_full_maps(session: Any) -> FullMaps:
    """``TabHandles.full_maps``: the current file's full-resolution maps, or ``ValueError`` with a message."""
    return _workspace(session).full_maps()


@dataclass
class _Tab:
    """The components of one built tab and its event handlers (no per-user data: that is in ``session``)."""

    ctx: TabContext
    components: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["components"][name]
        except KeyError:
            raise AttributeError(name) from None

    # ----------------------------------------------------------------------------------------------------------
    # Helpers

    def new_workspace(self) -> Workspace:
        return Workspace(self.ctx.defaults, self.ctx.max_pixels)

    def guard(self, handler: Callable[..., dict[Any, Any]]) -> Callable[..., dict[Any, Any]]:
        """Turn any exception of ``handler`` into a message in the status line.

        The wrapper keeps the handler's signature (``functools.wraps``): gradio reads it to pass ``gr.SelectData``
        and ``gr.Progress``.
        """

        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> dict[Any, Any]:
            try:
                return handler(*args, **kwargs)
            except (ValueError, OSError, DepthReadError) as exc:
                return {self.status: _problem([str(exc)])}
            except MemoryError:
                return {self.status: _problem(["not enough memory for this operation"])}
            except Exception as exc:
                log.exception("daz_depthmap: %s failed", getattr(handler, "__name__", "handler"))
                return {self.status: _problem([f"unexpected error ({type(exc).__name__}: {exc})"])}

        return run

    def previews(self, ws: Workspace) -> dict[Any, Any]:
        """Preview images (the mask only when the mask option is on), stale downloads cleared."""
        return self.rendered(ws)[0]

    def rendered(self, ws: Workspace) -> tuple[dict[Any, Any], Preview | None]:
        entry = ws.current
        out: dict[Any, Any] = {
            self.depth_file: gr.update(value=None, visible=False),
            self.mask_file: gr.update(value=None, visible=False),
        }
        if entry is None:
            out.update({self.preview_depth: None, self.preview_mask: gr.update(value=None, visible=False)})
            return out, None
        preview = entry.render_preview()
        shown = entry.params.mask  # a hidden mask preview is not sent (its PNG costs as much as the depth's)
        out.update(
            {
                self.preview_depth: preview.depth,
                self.preview_mask: gr.update(value=preview.mask, visible=True) if shown else gr.update(visible=False),
            }
        )
        return out, preview

    def view(self, ws: Workspace) -> dict[Any, Any]:
        """Every component that shows the current file, set from the workspace."""
        entry = ws.current
        out: dict[Any, Any] = {
            self.session: ws,
            self.files: gr.update(choices=ws.keys, value=ws.current_key),
            self.remove: gr.update(interactive=entry is not None),
            self.pick: PICK_HINT,
            self.pick_far: gr.update(visible=False),
            self.pick_near: gr.update(visible=False),
        }
        if entry is None:
            out.update(
                {
                    self.info: "",
                    self.channel: gr.update(choices=[], value=None, interactive=False),
                    self.cutoff: gr.update(interactive=False),
                    self.near: gr.update(value=None, interactive=False),
                    self.seed: None,
                    self.histogram_data: json.dumps({"key": None, "nonce": time.monotonic()}),
                }
            )
            return {**out, **self.previews(ws)}
        params, payload = entry.params, entry.histogram_payload()
        channels = list(entry.channels)
        out.update(
            {
                self.info: _md(entry.message),
                self.channel: gr.update(choices=channels, value=entry.channel, interactive=len(channels) > 1),
                self.compress: params.compress_map,
                self.mask: params.mask,
                self.noise: params.noise,
                self.seed: params.seed,
                self.bits: f"{params.bits}-bit",
                self.invert: params.invert,
                self.cutoff: gr.update(
                    interactive=True,
                    minimum=payload["slider_min"],
                    maximum=payload["slider_max"],
                    step=entry.step,
                    value=round_to_step(entry.far_value(), entry.step / 10),
                ),
                self.near: gr.update(value=params.near_cutoff, interactive=True),
                self.histogram_data: json.dumps({**payload, "nonce": time.monotonic()}),
            }
        )
        return {**out, **self.previews(ws)}

    # ----------------------------------------------------------------------------------------------------------
    # Handlers

    def on_upload(self, session: Any, files: Any) -> dict[Any, Any]:
        ws = session if isinstance(session, Workspace) else self.new_workspace()
        result = ws.load(_upload_sources(files))
        message = f"Loaded {len(result.loaded)} file{'s' if len(result.loaded) != 1 else ''}." if result.loaded else ""
        problems = [*result.errors, *result.warnings]
        status = _problem(problems) if problems else _md(message)
        return {**self.view(ws), self.upload: None, self.status: status}

    def on_page_load(self, session: Any, paths: Sequence[Path]) -> dict[Any, Any]:
        """A page opened: show a new session with the files of the standalone app's command line."""
        ws = session if isinstance(session, Workspace) else self.new_workspace()
        result = ws.load(paths) if paths and not ws.files else None
        problems = [*result.errors, *result.warnings] if result else []
        return {**self.view(ws), self.status: _problem(problems) if problems else ""}

    def on_select(self, session: Any, key: str) -> dict[Any, Any]:
        ws = _workspace(session)
        if key:
            ws.select(key)
        return {**self.view(ws), self.status: ""}

    def on_remove(self, session: Any) -> dict[Any, Any]:
        ws = _workspace(session)
        entry = ws.require_current()
        ws.remove(entry.key)
        return {**self.view(ws), self.status: _md(f"Removed {entry.key}.")}

    def on_channel(self, session: Any, channel: str) -> dict[Any, Any]:
        """Read the file again with another channel; when that fails, the view shows the channel still in use."""
        ws = _workspace(session)
        if not channel:
            return {}
        try:
            ws.set_channel(channel)
        except (ValueError, OSError, DepthReadError) as exc:
            return {**self.view(ws), self.status: _problem([str(exc)])}
        except MemoryError:
            return {**self.view(ws), self.status: _problem(["not enough memory to read this channel"])}
        return {**self.view(ws), self.status: ""}

    def on_options(
        self, session: Any, compress: bool, mask: bool, noise: bool, seed: float | None, bits: str
    ) -> dict[Any, Any]:
        """An option changed: new previews. The status line is left alone (it only changes on errors), so the
        buttons below it stay where they are while this runs: a click on Save right after typing a seed lands."""
        ws = _workspace(session)
        ws.update(
            compress_map=bool(compress),
            mask=bool(mask),
            noise=bool(noise),
            seed=None if seed is None else int(seed),
            bits=16 if bits == "16-bit" else 8,
        )
        return self.previews(ws)

    def on_invert(self, session: Any, invert: bool) -> dict[Any, Any]:
        ws = _workspace(session)
        ws.update(invert=bool(invert), depth_cutoff=None, near_cutoff=None)
        return {**self.view(ws), self.status: ""}

    def on_live(self, session: Any, request: str) -> dict[Any, Any]:
        """A cutoff change from the browser: ``{"seq": n, "far": x, "near": y|null}``; answers with the seq.

        The reply's ``far`` and ``near`` are the cutoffs in use: the ones sent, or after an ``error`` (a near
        cutoff beyond the far one) the ones kept, which the page then shows again.
        """
        started = time.perf_counter()
        try:
            data = json.loads(request or "{}")
        except ValueError:
            return {}
        reply: dict[str, Any] = {"seq": data.get("seq"), "error": None}
        out: dict[Any, Any] = {}
        try:
            ws = _workspace(session)
            far, near = data.get("far"), data.get("near")
            ws.update(
                depth_cutoff=None if far is None else float(far), near_cutoff=None if near is None else float(near)
            )
            out, preview = self.rendered(ws)
            if preview is not None:
                window = preview.window
                reply.update(
                    {
                        "key": ws.current_key,
                        "far": window.far,
                        "near": window.near,
                        "clipped_far": preview.clipped_far,
                        "clipped_near": preview.clipped_near,
                    }
                )
        except (ValueError, OSError, DepthReadError) as exc:
            reply["error"] = str(exc)
        except Exception as exc:  # never a traceback in the tab
            log.exception("daz_depthmap: live preview failed")
            reply["error"] = f"unexpected error ({type(exc).__name__}: {exc})"
        entry = session.current if reply["error"] and isinstance(session, Workspace) else None
        if entry is not None:
            reply.update({"key": entry.key, "far": entry.far_value(), "near": entry.near_value()})
        reply["ms"] = round((time.perf_counter() - started) * 1000, 2)
        return {**out, self.live_done: json.dumps(reply)}

    def on_pick(self, session: Any, evt: gr.SelectData) -> dict[Any, Any]:
        ws = _workspace(session)
        x, y = evt.index if isinstance(evt.index, (list, tuple)) else (0, 0)
        info = ws.pick(int(x), int(y))
        if info.depth is None:
            return {
                self.pick: _md(f"Pixel ({info.x}, {info.y}): background (no depth)"),
                self.pick_far: gr.update(visible=False),
                self.pick_near: gr.update(visible=False),
            }
        return {
            self.pick: _md(f"Pixel ({info.x}, {info.y}): depth {format_depth(info.depth)}"),
            self.picked: info.depth,
            self.pick_far: gr.update(visible=True),
            self.pick_near: gr.update(visible=True),
        }

    def on_save(self, session: Any) -> dict[Any, Any]:
        ws = _workspace(session)
        written = ws.write_current(self.ctx.output_dir)
        depth = next(p for p in written if p.name.endswith(".depth.png"))
        mask = next((p for p in written if p.name.endswith(".mask.png")), None)
        return {
            self.depth_file: gr.update(value=str(depth), visible=True),
            self.mask_file: gr.update(value=str(mask) if mask else None, visible=mask is not None),
            self.status: _md(f"Wrote {', '.join(p.name for p in written)} to {self.ctx.output_dir}"),
        }

    def on_process_all(self, session: Any, progress: Any = None) -> dict[Any, Any]:
        ws = _workspace(session)
        if not ws.files:
            raise ValueError("no file loaded: drop one or more depth .exr files above first")

        def report(done: int, total: int, name: str) -> None:
            if progress is not None:
                progress(done / max(total, 1), desc=f"{name} ({done + 1}/{total})" if name else "done")

        result = ws.write_all(self.ctx.output_dir, report)
        done = len(ws.files) - len(result.errors)
        message = _md(
            f"Wrote {len(result.written)} PNG files for {done} of {len(ws.files)} files to {self.ctx.output_dir}"
        )
        return {self.status: message + ("  \n" + _problem(result.errors) if result.errors else "")}


def _process_all_handler(tab: _Tab) -> Callable[..., dict[Any, Any]]:
    """``on_process_all`` with a ``gr.Progress`` default argument (gradio finds progress bars that way)."""

    def process_all(session: Any, progress: Any = gr.Progress()) -> dict[Any, Any]:  # noqa: B008
        return tab.on_process_all(session, progress)

    return tab.guard(process_all)


def build_tab(ctx: TabContext, initial_files: Sequence[str | Path] = (), theme: Any = None) -> gr.Blocks:
    """Build the tab.

    Parameters
    ----------
    ctx:
        Output folder, default options, size limit, element id prefix and the host's extra controls.
    initial_files:
        Files loaded into every new session when the page opens (the standalone app's command line).
    theme:
        A gradio theme for a standalone page (a host's page keeps its own).
    """
    p = ctx.elem_prefix
    c: dict[str, Any] = {}
    with gr.Blocks(analytics_enabled=False, title="DAZ depth map", theme=theme) as blocks:
        c["session"] = gr.State(None)
        with gr.Column(elem_id=p, elem_classes=["dazdm-root"]):
            with gr.Row(equal_height=False, elem_classes=["dazdm-layout"]):
                with gr.Column(scale=2, min_width=320, elem_classes=["dazdm-side"]):
                    c["upload"] = gr.File(
                        label="Depth EXR files (drop one or many)",
                        file_count="multiple",
                        file_types=[".exr"],
                        height=120,
                        elem_id=f"{p}_upload",
                        elem_classes=["dazdm-upload"],
                    )
                    c["status"] = gr.Markdown("", elem_id=f"{p}_status", elem_classes=["dazdm-status"])
                    with gr.Group(elem_classes=["dazdm-files-group"]):
                        c["files"] = gr.Radio(
                            choices=[], label="Loaded files", elem_id=f"{p}_files", elem_classes=["dazdm-files"]
                        )
                        c["info"] = gr.Markdown("", elem_id=f"{p}_info", elem_classes=["dazdm-info"])
                    with gr.Group(elem_classes=["dazdm-options"]):
                        with gr.Row():
                            c["channel"] = gr.Dropdown(
                                choices=[], label="Channel", interactive=False, scale=1, elem_id=f"{p}_channel"
                            )
                            c["bits"] = gr.Radio(
                                list(BITS_CHOICES),
                                value=f"{ctx.defaults.bits}-bit",
                                label="PNG bits",
                                scale=1,
                                elem_id=f"{p}_bits",
                            )
                        for row in CHECKBOX_ROWS:
                            with gr.Row(elem_classes=["dazdm-checks"]):
                                for key, field, label, info in row:
                                    c[key] = gr.Checkbox(
                                        label=label,
                                        value=getattr(ctx.defaults, field),
                                        info=info,
                                        elem_id=f"{p}_{key}",
                                    )
                        c["seed"] = gr.Number(
                            label="Noise seed (empty: new noise every time)",
                            value=ctx.defaults.seed,
                            precision=0,
                            elem_id=f"{p}_seed",
                        )
                    with gr.Row(elem_classes=["dazdm-actions"]):
                        c["save"] = gr.Button(
                            "Save this file", variant="primary", scale=2, min_width=100, elem_id=f"{p}_save"
                        )
                        c["process_all"] = gr.Button("Process all", scale=2, min_width=100, elem_id=f"{p}_process_all")
                        c["remove"] = gr.Button(
                            "Remove", interactive=False, scale=1, min_width=80, elem_id=f"{p}_remove"
                        )
                    with gr.Row(elem_classes=["dazdm-downloads"]):
                        c["depth_file"] = gr.File(label="Depth PNG", visible=False, elem_id=f"{p}_depth_file")
                        c["mask_file"] = gr.File(label="Mask PNG", visible=False, elem_id=f"{p}_mask_file")
                    if ctx.add_controls is not None:
                        ctx.add_controls(
                            TabHandles(session=c["session"], status=c["status"], full_maps=session_full_maps)
                        )
                with gr.Column(scale=3, min_width=480, elem_classes=["dazdm-main"]):
                    c["histogram"] = gr.HTML(HISTOGRAM_HTML, elem_id=f"{p}_histogram")
                    with gr.Row(elem_classes=["dazdm-cutoffs"]):
                        c["cutoff"] = gr.Slider(
                            minimum=0,
                            maximum=1,
                            value=1,
                            step=0.001,
                            interactive=False,  # as the empty view has it (see build_tab's page-load event)
                            label="Far cutoff (depth clamped here: black)",
                            scale=4,
                            elem_id=f"{p}_cutoff",
                            elem_classes=["dazdm-cutoff"],
                        )
                        c["near"] = gr.Number(
                            label="Near cutoff (white)",
                            value=None,
                            interactive=False,
                            scale=1,
                            min_width=120,
                            elem_id=f"{p}_near",
                            elem_classes=["dazdm-near"],
                        )
                    with gr.Row(elem_classes=["dazdm-previews"]):
                        c["preview_depth"] = gr.Image(
                            label="Depth map preview",
                            interactive=False,
                            height=PREVIEW_HEIGHT,
                            show_download_button=False,
                            elem_id=f"{p}_preview_depth",
                            elem_classes=["dazdm-preview"],
                        )
                        c["preview_mask"] = gr.Image(
                            label="Mask preview",
                            interactive=False,
                            height=PREVIEW_HEIGHT,
                            visible=ctx.defaults.mask,
                            show_download_button=False,
                            elem_id=f"{p}_preview_mask",
                            elem_classes=["dazdm-preview"],
                        )
                    with gr.Row(elem_classes=["dazdm-pick-row"]):
                        c["pick"] = gr.Markdown(
                            PICK_HINT,
                            elem_id=f"{p}_pick",
                            elem_classes=["dazdm-pick"],
                        )
                        c["pick_far"] = gr.Button(
                            "Set far cutoff here", size="sm", visible=False, elem_id=f"{p}_pick_far"
                        )
                        c["pick_near"] = gr.Button(
                            "Set near cutoff here", size="sm", visible=False, elem_id=f"{p}_pick_near"
                        )
            with gr.Row(elem_classes=["dazdm-hidden"]):
                c["histogram_data"] = gr.Textbox(visible=False, elem_id=f"{p}_histogram_data")
                c["live_request"] = gr.Textbox(
                    visible=False, elem_id=f"{p}_live_request", elem_classes=["dazdm-live-request"]
                )
                c["live_done"] = gr.Textbox(visible=False, elem_id=f"{p}_live_done")
                c["picked"] = gr.Number(visible=False, elem_id=f"{p}_picked")
        tab = _Tab(ctx, c)
        _wire(tab, p)
        paths = [Path(f) for f in initial_files]
        if paths:
            # Only with files to show: the components start as the empty view, and a page-load event answering
            # after the upload of a file dropped at once would replace that upload's session with its own.
            blocks.load(tab.guard(lambda session: tab.on_page_load(session, paths)), [c["session"]], _view_outputs(tab))
    return blocks


def _view_outputs(tab: _Tab) -> list[Any]:
    """The components :meth:`_Tab.view` sets, and the status line.

    Not the upload box: gradio 3 drops a file's upload event when the box is the output of an event still pending
    (a file dropped while another event runs was lost); only the upload event itself clears it.
    """
    names = (
        "session files remove pick pick_far pick_near info channel compress mask noise seed bits invert cutoff near "
        "histogram_data preview_depth preview_mask depth_file mask_file status"
    )
    return [getattr(tab, name) for name in names.split()]


def _wire(tab: _Tab, p: str) -> None:
    view = _view_outputs(tab)
    previews = [tab.preview_depth, tab.preview_mask, tab.depth_file, tab.mask_file, tab.status]
    tab.upload.upload(tab.guard(tab.on_upload), [tab.session, tab.upload], [*view, tab.upload])
    tab.files.input(tab.guard(tab.on_select), [tab.session, tab.files], view)
    tab.remove.click(tab.guard(tab.on_remove), [tab.session], view)
    tab.channel.input(tab.guard(tab.on_channel), [tab.session, tab.channel], view)
    options = [tab.session, tab.compress, tab.mask, tab.noise, tab.seed, tab.bits]
    # no progress overlay: a pending status line would grow and push the buttons below it away from the pointer
    quiet = {"show_progress": "hidden"}
    for component in (tab.compress, tab.mask, tab.noise, tab.bits):
        component.input(tab.guard(tab.on_options), options, previews, **quiet)
    tab.seed.submit(tab.guard(tab.on_options), options, previews, **quiet)
    tab.seed.blur(tab.guard(tab.on_options), options, previews, **quiet)
    tab.invert.input(tab.guard(tab.on_invert), [tab.session, tab.invert], view)
    tab.live_request.input(tab.on_live, [tab.session, tab.live_request], [*previews[:4], tab.live_done], queue=False)
    tab.live_done.change(None, [tab.live_done], None, **js_listener(f"(v) => dazDepthmap.live.done('{p}', v)"))
    tab.histogram_data.change(
        None, [tab.histogram_data], None, **js_listener(f"(v) => dazDepthmap.histogram.setData('{p}', v)")
    )
    pick = tab.guard(tab.on_pick)  # gradio passes gr.SelectData by the annotation, which the guard keeps
    pick_outputs = [tab.pick, tab.picked, tab.pick_far, tab.pick_near, tab.status]
    tab.preview_depth.select(pick, [tab.session], pick_outputs)
    tab.preview_mask.select(pick, [tab.session], pick_outputs)
    tab.pick_far.click(None, [tab.picked], None, **js_listener(f"(v) => dazDepthmap.live.setFar('{p}', v)"))
    tab.pick_near.click(None, [tab.picked], None, **js_listener(f"(v) => dazDepthmap.live.setNear('{p}', v)"))
    tab.save.click(tab.guard(tab.on_save), [tab.session], [tab.depth_file, tab.mask_file, tab.status])
    tab.process_all.click(_process_all_handler(tab), [tab.session], [tab.status])
