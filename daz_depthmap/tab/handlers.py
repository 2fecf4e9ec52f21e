"""The tab's event handlers: each opens the browser session's workspace, calls it, and turns the result (or the
problem) into component values. No numbers are computed here; no exception reaches gradio.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from ..canvas.normals.options import CHANNEL_MEANINGS, NormalOptions, normal_legend
from ..exr import DepthReadError
from ..output.names import (
    BEAUTY_SUFFIX,
    DEPTH_SUFFIX,
    MASK_SUFFIX,
    NORMAL_SUFFIX,
    REGIONS_SUFFIX,
)
from ..render.pipeline import window_warnings
from ..render.recipe import read_recipe_file
from ..session.batch import recipe_of, taken_note, with_recipe, write_all, write_recipe, write_shown
from ..session.canvas_set import beauty_preview, normal_preview
from ..session.live import live_update, parse_request
from ..session.loaded import Preview, round_to_step
from ..session.store import Session, SessionStore
from ..session.view import empty_view, file_info, file_view, format_depth
from ..session.workspace import Shown
from . import compat
from .contract import TabContext
from .layout import TabLayout
from .texts import LOOK_LABELS, PICK_HINT, PREVIEW_LABELS, PROCESS_CHOICES, loaded_said

log = logging.getLogger(__name__)

Updates = dict[Any, Any]

#: Side of the normal map legend, in pixels.
LEGEND_SIDE = 120


def markdown_text(text: str) -> str:
    """Plain text for a Markdown component: markup characters escaped, lines kept."""
    escaped = re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)
    return "  \n".join(escaped.splitlines())


def problems(lines: Sequence[str]) -> str:
    """Warnings for the status line, one per line."""
    return markdown_text("\n".join(f"⚠ {line}" for line in lines))


class TabHandlers:
    """The handlers of one built tab. Per-user data lives in the session the ``session`` state's token opens."""

    def __init__(
        self, layout: TabLayout, ctx: TabContext, sessions: SessionStore, initial_files: Sequence[Path] = ()
    ) -> None:
        self.ui = layout
        self.ctx = ctx
        self.sessions = sessions
        self.initial_files = list(initial_files)
        #: the checkboxes :meth:`on_options` reads, in order (Invert has a handler of its own: it resets the view)
        self.map_options = [name for name in layout.options if name != "invert"]

    # ----------------------------------------------------------------------------------------------------------
    # Helpers

    def guard(self, handler: Callable[..., Updates]) -> Callable[..., Updates]:
        """Turn any exception of ``handler`` into a message in the status line (logging the unexpected ones).

        The wrapper keeps the handler's signature (``functools.wraps``): gradio reads it to pass ``gr.SelectData``
        and ``gr.Progress``.
        """

        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Updates:
            try:
                return handler(*args, **kwargs)
            except (ValueError, OSError, DepthReadError) as exc:
                return {self.ui.status: problems([str(exc)])}
            except MemoryError:
                return {self.ui.status: problems(["not enough memory for this operation"])}
            except Exception as exc:
                log.exception("daz_depthmap: %s failed", getattr(handler, "__name__", "a handler"))
                return {self.ui.status: problems([f"unexpected error ({type(exc).__name__}: {exc})"])}

        return run

    def open(self, token: Any) -> tuple[Session, Updates]:
        """The session of ``token``; a replaced (evicted) session comes with its whole empty view and a notice."""
        opened = self.sessions.open(token)
        out: Updates = {self.ui.session: opened.session.token}
        if opened.notice:
            out.update(self.view(opened.session))
            out[self.ui.status] = problems([opened.notice])
        return opened.session, out

    def previews(
        self, shown: Shown | None, labelled: bool = False, preview: Preview | None = None
    ) -> tuple[Updates, Preview | None]:
        """Preview images (the mask only when the mask option is on); stale downloads cleared. ``labelled``: the
        preview's label says what it shows (after the look changed; it is the session's, kept across files).
        ``preview``: the one of ``shown`` when it is rendered already."""
        ui = self.ui
        out: Updates = {  # the downloads of an earlier Save no longer match
            ui.depth_file: compat.update(value=None),
            ui.mask_file: compat.update(value=None, visible=False),
            ui.regions_file: compat.update(value=None, visible=False),
            ui.normal_file: compat.update(value=None, visible=False),
            ui.beauty_file: compat.update(value=None, visible=False),
        }
        if shown is None:
            out.update({ui.preview_depth: None, ui.preview_mask: compat.update(value=None, visible=False)})
            return out, None
        preview = preview or shown.render_preview()
        shown_mask = shown.params.mask  # a hidden mask preview is not sent (its PNG costs as much as the depth's)
        out[ui.preview_depth] = preview.picture
        if labelled:
            out[ui.preview_depth] = compat.update(value=preview.picture, label=PREVIEW_LABELS[preview.look])
        out[ui.preview_mask] = (
            compat.update(value=preview.mask, visible=True) if shown_mask else compat.update(visible=False)
        )
        return out, preview

    @staticmethod
    def page_view(session: Session, payload: dict[str, Any]) -> dict[str, Any]:
        """The file view for the page script, with the session's token (the page releases its session with it
        when it is closed) and a nonce (so the page hears of every view, even an unchanged one)."""
        return {**payload, "session": session.token, "nonce": time.monotonic()}

    @staticmethod
    def log_text(session: Session) -> str:
        """The session's messages for the Messages box, newest first."""
        lines = session.workspace.log
        return markdown_text("\n".join(reversed(lines))) if lines else "No messages yet."

    def tell(self, session: Session, lines: Sequence[str], fine: str = "") -> Updates:
        """A status line (the problems, or ``fine`` when there are none) kept in the session's messages too."""
        session.workspace.note(list(lines) if lines else [fine] if fine else [])
        status = problems(lines) if lines else markdown_text(fine)
        return {self.ui.status: status, self.ui.log: self.log_text(session)}

    def view(self, session: Session, lines: Sequence[str] | None = None, fine: str = "") -> Updates:
        """Every component that shows the current file, set from the workspace. With ``lines`` (problems, maybe
        none) the status line says them, and what the set's parts could not show, or else ``fine``."""
        ui, ws = self.ui, session.workspace
        shown = ws.shown()
        set_problems: list[str] = []
        out: Updates = {
            ui.session: session.token,
            ui.files: compat.update(choices=ws.keys, value=ws.current_key),
            ui.remove: compat.update(interactive=shown is not None),
            ui.pick: PICK_HINT,
            ui.pick_far: compat.update(visible=False),
            ui.pick_near: compat.update(visible=False),
            ui.log: self.log_text(session),
        }
        if shown is None:
            out.update(
                {
                    ui.info: "",
                    ui.look: LOOK_LABELS[ws.look],
                    ui.channel: compat.update(choices=[], value=None, interactive=False),
                    ui.cutoff: compat.update(interactive=False),
                    ui.near: compat.update(value=None, interactive=False),
                    ui.seed: compat.update(value=None, visible=False),
                    ui.histogram_data: json.dumps(self.page_view(session, empty_view(ws.view))),
                    **self.hidden_set_previews(),
                }
            )
            told = self.tell(session, lines, fine) if lines is not None else {}
            return {**out, **self.previews(None)[0], **told}
        previews, preview = self.previews(shown)
        assert preview is not None
        previews.update(self.set_previews(session, shown, set_problems if lines is not None else None))
        entry, params, payload = shown.file, shown.params, file_view(shown, preview.bands)
        channels = list(entry.channels)
        out.update({ui.options[name]: getattr(params, name) for name in ui.options})
        out.update(
            {
                ui.info: markdown_text(file_info(shown)),
                ui.channel: compat.update(choices=channels, value=entry.channel, interactive=len(channels) > 1),
                ui.seed: compat.update(value=params.seed, visible=params.noise),
                ui.bits: f"{params.bits}-bit",
                ui.cutoff: compat.update(
                    interactive=True,
                    minimum=payload["slider_min"],
                    maximum=payload["slider_max"],
                    step=entry.step,
                    value=round_to_step(entry.far_value(params), entry.step / 10),
                ),
                ui.near: compat.update(value=params.near_cutoff, interactive=True),
                ui.histogram_data: json.dumps(self.page_view(session, payload)),
                ui.look: LOOK_LABELS[shown.look],
            }
        )
        told = self.tell(session, [*lines, *set_problems], fine) if lines is not None else {}
        return {**out, **previews, **told}

    # ----------------------------------------------------------------------------------------------------------
    # Files

    def on_upload(self, token: Any, files: Any) -> Updates:
        session, out = self.open(token)
        sources = []
        refused = []
        for upload in compat.uploads(files):
            try:
                sources.append((self.sessions.adopt(session, upload.path, upload.name, upload.copies), upload.name))
            except (ValueError, OSError) as exc:
                refused.append(str(exc))
        result = session.workspace.load(sources)
        kept = set(session.workspace.protected())  # loaded files and the parts of their sets
        for path, _name in sources:  # uploads that did not load are not kept
            if path not in kept:
                self.sessions.forget_upload(session, path)
        loaded = loaded_said([1 + len(session.workspace.parts(key).files) for key in result.loaded])
        said = [loaded] if loaded else []
        said += [f"Added {joined}." for joined in result.joined]  # a set's part dropped after its depth
        message = " ".join(said)
        return {
            **out,
            **self.view(session, [*refused, *result.errors, *result.warnings], message),
            self.ui.upload: None,
        }

    def on_page_load(self, token: Any) -> Updates:
        """A page opened: show a new session with the files of the standalone app's command line."""
        session, out = self.open(token)
        ws = session.workspace
        result = ws.load(self.initial_files) if self.initial_files and not ws.files else None
        issues = [*result.errors, *result.warnings] if result else []
        return {**out, **self.view(session, issues)}

    def on_select(self, token: Any, key: str) -> Updates:
        session, out = self.open(token)
        if key:
            session.workspace.select(key)
        return {**out, **self.view(session), self.ui.status: out.get(self.ui.status, "")}

    def on_remove(self, token: Any) -> Updates:
        session, out = self.open(token)
        ws = session.workspace
        key = ws.require_shown().file.key
        parts = ws.parts(key)
        entry = ws.remove(key)
        uploads = [entry.source] if entry.uploaded else []
        for path in [*uploads, *(part.path for part in parts.files if part.uploaded)]:
            self.sessions.forget_upload(session, path)
        return {**out, **self.view(session), self.ui.status: markdown_text(f"Removed {entry.key}.")}

    def on_channel(self, token: Any, channel: str) -> Updates:
        """Read the file again with another channel; when that fails, the view shows the channel still in use."""
        session, out = self.open(token)
        if not channel:
            return out
        try:
            session.workspace.set_channel(channel)
        except (ValueError, OSError, DepthReadError) as exc:
            return {**out, **self.view(session), **self.tell(session, [str(exc)])}
        except MemoryError:
            return {**out, **self.view(session), **self.tell(session, ["not enough memory to read this channel"])}
        return {**out, **self.view(session), self.ui.status: ""}

    # ----------------------------------------------------------------------------------------------------------
    # Options and cutoffs

    def on_options(self, token: Any, *values: Any) -> Updates:
        """An option changed: new previews. The status line is left alone (it only changes on errors), so the
        buttons below it stay where they are while this runs: a click on Save right after typing a seed lands."""
        session, out = self.open(token)
        *checks, seed, bits = values
        ws = session.workspace
        changes = dict(zip(self.map_options, (bool(v) for v in checks), strict=True))
        drawn = seed is None  # an emptied box: new noise, under a seed of its own (preview and PNG still agree)
        shown = ws.update(**changes, seed=ws.draw_seed() if drawn else int(seed), bits=16 if bits == "16-bit" else 8)
        seed_box = compat.update(visible=shown.params.noise, **({"value": shown.params.seed} if drawn else {}))
        return {**out, **self.previews(shown)[0], self.ui.seed: seed_box}

    def on_invert(self, token: Any, invert: bool) -> Updates:
        session, out = self.open(token)
        session.workspace.set_invert(bool(invert))
        return {**out, **self.view(session), self.ui.status: ""}

    def on_live(self, token: Any, request: str) -> Updates:
        """Cutoffs from the page's live path (:func:`~daz_depthmap.session.live.live_update`); answers with the
        same seq, and the previews when it rendered."""
        data = parse_request(request)
        if data is None:
            return {}
        try:
            session, out = self.open(token)
        except Exception as exc:  # never a traceback in the tab
            log.exception("daz_depthmap: live preview failed")
            reply = {"seq": data.get("seq"), "stale": False, "error": f"unexpected error ({type(exc).__name__})"}
            return {self.ui.live_done: json.dumps(reply)}
        update = live_update(session.workspace, data)
        if update.shown is not None:
            out.update(self.previews(update.shown, preview=update.preview)[0])
        return {**out, self.ui.live_done: json.dumps(update.reply)}

    def hidden_set_previews(self) -> Updates:
        ui = self.ui
        hidden = compat.update(value=None, visible=False)
        return {ui.preview_normal: hidden, ui.legend: hidden, ui.preview_beauty: hidden, ui.normal_info: ""}

    def set_previews(self, session: Session, shown: Shown, problems: list[str] | None = None) -> Updates:
        """The set's normal map (with its legend and what was found) and beauty previews, and its normal options;
        a part that cannot be read says so in the status line and the Messages (or is added to ``problems``, for
        the caller to say), the depth stays usable."""
        ui, options = self.ui, shown.normal
        out: Updates = {
            **self.hidden_set_previews(),
            ui.normal_box: compat.update(open=shown.has_normals),
            ui.normal_convention: options.convention,
            ui.normal_background: options.background,
            ui.normal_from_depth: options.from_depth,
            ui.focal_mm: options.focal_mm,
            ui.film_mm: options.film_mm,
        }
        problems_found: list[str] = []
        if shown.has_normals:
            try:
                normal = normal_preview(shown.file, shown.parts, options, shown.previews)
            except (DepthReadError, ValueError, OSError) as exc:
                problems_found.append(str(exc))
            else:
                legend = normal_legend(options.convention, LEGEND_SIDE)
                out[ui.preview_normal] = compat.update(value=normal.image, visible=True)
                out[ui.legend] = compat.update(value=legend, visible=True)
                lines = [normal.summary, CHANNEL_MEANINGS[options.convention], *normal.notes[:2]]
                out[ui.normal_info] = markdown_text("\n".join(lines))
        if shown.parts.beauty is not None:
            try:
                beauty = beauty_preview(shown.file, shown.parts, shown.previews)
            except (DepthReadError, OSError) as exc:
                problems_found.append(str(exc))
            else:
                out[ui.preview_beauty] = compat.update(value=beauty, visible=True)
        if problems is not None:
            problems.extend(problems_found)
        elif problems_found:
            out.update(self.tell(session, problems_found))
        return out

    def on_normal_options(
        self, token: Any, convention: str, background: str, from_depth: bool, focal: Any, film: Any
    ) -> Updates:
        """Normal options changed: the set's normal preview again (depth previews are not touched)."""
        session, out = self.open(token)
        options = NormalOptions(
            convention or "bae",
            background or "camera",
            None if focal in (None, "") else float(focal),
            None if film in (None, "") else float(film),
            bool(from_depth),
        )
        shown = session.workspace.set_normal_options(options)
        return {**out, **self.set_previews(session, shown), self.ui.status: out.get(self.ui.status, "")}

    def on_look(self, token: Any, label: str) -> Updates:
        """What the previews show: the depth map, the bands' test colours or the region map."""
        session, out = self.open(token)
        look = next((look for look, text in LOOK_LABELS.items() if text == label), "depth")
        shown = session.workspace.set_look(look)
        return {**out, **self.previews(shown, labelled=True)[0]}

    def on_pick(self, token: Any, evt: gr.SelectData) -> Updates:
        session, out = self.open(token)
        x, y = evt.index if isinstance(evt.index, (list, tuple)) else (0, 0)
        info = session.workspace.pick(int(x), int(y))
        ui = self.ui
        if info.depth is None:
            return {
                **out,
                ui.pick: markdown_text(f"Pixel ({info.x}, {info.y}): background (no depth)"),
                ui.pick_far: compat.update(visible=False),
                ui.pick_near: compat.update(visible=False),
            }
        return {
            **out,
            ui.pick: markdown_text(f"Pixel ({info.x}, {info.y}): depth {format_depth(info.depth)}"),
            ui.picked: info.depth,
            ui.pick_far: compat.update(visible=True),
            ui.pick_near: compat.update(visible=True),
        }

    # ----------------------------------------------------------------------------------------------------------
    # Outputs

    def on_save(self, token: Any) -> Updates:
        session, out = self.open(token)
        ws = session.workspace
        saved = ws.require_shown()
        written = write_shown(saved, self.ctx.output_dir, ws.protected())
        ui = self.ui
        slots = {DEPTH_SUFFIX: ui.depth_file, MASK_SUFFIX: ui.mask_file, REGIONS_SUFFIX: ui.regions_file,
                 NORMAL_SUFFIX: ui.normal_file, BEAUTY_SUFFIX: ui.beauty_file}  # fmt: skip
        found = {suffix: next((p for p in written if p.name.endswith(suffix)), None) for suffix in slots}
        copies = self.downloads(session, "save", {slots[s]: path for s, path in found.items() if path is not None})
        shown = ws.require_shown()
        note = taken_note(saved, written)
        warnings = [*([note] if note else []), *window_warnings(shown.file.window(shown.params))]
        message = f"Wrote {', '.join(p.name for p in written)} to {self.ctx.output_dir}"
        told = self.tell(session, [], message)
        if warnings:
            warned = self.tell(session, warnings)
            told = {**warned, ui.status: told[ui.status] + "  \n" + warned[ui.status]}
        offered = {
            slot: compat.update(value=str(copies[slot]) if slot in copies else None, visible=slot in copies)
            for slot in slots.values()
        }
        return {**out, **offered, **told}

    def downloads(self, session: Session, kind: str, files: dict[Any, Path]) -> dict[Any, Path]:
        """Copies of a session's saved ``files`` (by the File component that offers each) for its page to download,
        in gradio's cache under a folder named by their bytes' hash: known to this page alone, and deleted when
        the page offers others of this ``kind``, when the session ends, and when the server stops. The files in
        the outputs folder are never handed to gradio (the standalone app blocks that folder from its file route)."""
        copies = {slot: compat.download_copy(slot, path) for slot, path in files.items()}
        self.sessions.offer_downloads(session, kind, [c for slot, c in copies.items() if c != files[slot]])
        return copies

    def on_process_all(self, token: Any, how: str = PROCESS_CHOICES[0], progress: Any = None) -> Updates:
        """Write every loaded file, each with its own settings or all with the recipe of the file shown."""
        session, out = self.open(token)
        ws = session.workspace
        items = ws.everything()
        if not items:
            raise ValueError("no file loaded: drop one or more depth .exr files above first")
        recipe = recipe_of(ws.require_shown()) if how == PROCESS_CHOICES[1] else None

        def report(done: int, total: int, name: str) -> None:
            if progress is not None:
                progress(done / max(total, 1), desc=f"{name} ({done + 1}/{total})" if name else "done")

        result = write_all(items, self.ctx.output_dir, ws.protected(), report, recipe)
        done = len(items) - len(result.errors)
        message = f"Wrote {len(result.written)} PNG files for {done} of {len(items)} files to {self.ctx.output_dir}"
        if recipe is not None:
            message += f", all with the recipe of {ws.require_shown().file.name}"
            items = [with_recipe(s, recipe) for s in items]
        warnings = [f"{s.file.name}: {w}" for s in items for w in window_warnings(s.file.window(s.params))]
        told = self.tell(session, [], message)
        issues = [*result.errors, *result.notes, *warnings]
        if issues:
            warned = self.tell(session, issues)
            told = {**warned, self.ui.status: told[self.ui.status] + "  \n" + warned[self.ui.status]}
        return {**out, **told}

    # ----------------------------------------------------------------------------------------------------------
    # Recipes

    def on_export_recipe(self, token: Any) -> Updates:
        """Write the shown file's recipe (cutoffs, options, bands as mapped) next to its PNGs, to download."""
        session, out = self.open(token)
        shown = session.workspace.require_shown()
        written = write_recipe(shown, self.ctx.output_dir, session.workspace.protected())
        copy = self.downloads(session, "recipe", {self.ui.recipe_file: written})[self.ui.recipe_file]
        told = self.tell(session, [], f"Wrote the recipe {written.name} to {self.ctx.output_dir}")
        note = taken_note(shown, [written])
        if note:
            warned = self.tell(session, [note])
            told = {**warned, self.ui.status: told[self.ui.status] + "  \n" + warned[self.ui.status]}
        return {**out, self.ui.recipe_file: compat.update(value=str(copy), visible=True), **told}

    def on_import_recipe(self, token: Any, upload: Any) -> Updates:
        """Map the shown file with an uploaded recipe: its cutoffs, options and bands (levels as saved)."""
        session, out = self.open(token)
        files = compat.uploads(upload)
        if not files:
            return out
        name = files[0].name
        try:
            recipe = read_recipe_file(files[0].path)
        except (ValueError, OSError) as exc:  # RecipeError too
            return {**out, **self.tell(session, [f"{name}: {exc}"])}
        finally:
            for item in files:
                for path in (item.path, *item.copies):
                    with contextlib.suppress(OSError):
                        path.unlink()
        session.workspace.apply_recipe(recipe)
        return {**out, **self.view(session), **self.tell(session, [], f"Mapped with the recipe {name}.")}
