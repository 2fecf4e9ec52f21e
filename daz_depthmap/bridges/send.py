"""The send block: controls in the tab that put the current file's images into targets on the WebUI's page.

A send delivers N (target, image) pairs — the depth map into a ControlNet unit, the mask into img2img's inpaint
upload, later a canvas set's three maps into three units. An image lands only where the page shows its target, and
the target's own listeners need it settled before its settings change, so a send runs in steps:

1. ``prepare`` (Python): the full-resolution images, kept in the session until the last step (or until they
   expire: an interrupted send does not keep them), and a plan for the page script.
2. For each pair, in order: the page script shows the target (``daz_depthmap_send.js``: tabs, accordions, the
   unit, img2img's "Upload independent control image") and Python delivers the image; then the script waits until
   the target shows that image, settled, ticks its Enable, and Python sets its settings.
3. After the last pair: the generation size, and one status line saying what went where.

The block knows targets only through :class:`~daz_depthmap.bridges.base.Target`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np

from ..context import TabHandles
from ..mapping import to_8bit
from ..session.batch import full_maps
from ..session.store import Session
from ..tab import compat
from .base import Target, Updates
from .controlnet_a1111 import KEEP_MODEL, TABS, SdWebuiControlNet, UnitSettings, pick_model
from .webui_controls import GenerationControls

log = logging.getLogger(__name__)

#: The most (target, image) pairs a depth map's send delivers: the map to a unit, its mask to the inpaint upload.
DEPTH_PAIRS = 2
#: A send's images are dropped this long after it started, finished or not.
PENDING_SECONDS = 120.0


@dataclass(frozen=True)
class SendSettings:
    """The WebUI settings a send reads (plain values; see ``daz_depthmap.webui``)."""

    preferred_model: str = KEEP_MODEL
    set_preprocessor_model: bool = True


@dataclass(frozen=True)
class Pair:
    """One delivery: which image of the send goes to which target, and the target's settings."""

    target: Target
    image: str  # a key of PendingSend.images: "depth", "mask"
    settings: Any = None


@dataclass
class PendingSend:
    """A send between its steps, kept in the session (and counted in its memory) until its last step."""

    send_id: str
    name: str
    width: int
    height: int
    bits: int
    tab: str
    pairs: list[Pair]
    images: dict[str, np.ndarray]
    done: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(int(image.nbytes) for image in self.images.values())


def markdown_plain(text: str) -> str:
    """``text`` shown as it is in a Markdown status line (markup characters escaped)."""
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


def _page_step(name: str, **indexes: int) -> str:
    """The client function of a step: the page script's, or the inputs unchanged when the script is missing."""
    call = f"dazDepthmapSend.{name}(args, {json.dumps(indexes)})"
    return f"(...args) => (window.dazDepthmapSend ? {call} : args)"


def _for_slot(handler: Callable[..., Updates], slot: int) -> Callable[..., Updates]:
    """``handler`` with its first argument, the pair's slot, bound (a plain function: gradio reads its signature)."""

    def step(*args: Any) -> Updates:
        return handler(slot, *args)

    step.__name__ = f"{handler.__name__}_{slot}"
    return step


def report_problem(report: str) -> str | None:
    """What went wrong on the page, from the script's report; ``None`` when its step went well."""
    if not report:
        return (
            "the page script that shows the target did not run (javascript/daz_depthmap_send.js). "
            "Reload the page and send again"
        )
    try:
        parsed = json.loads(report)
    except ValueError:
        return f"the page script sent an unreadable report ({report[:80]!r})"
    if isinstance(parsed, dict) and parsed.get("ok") is True:
        return None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return str(error or "the page could not show the target")


class SendBlock:
    """ "Send to ControlNet": the current depth map into a unit of txt2img or img2img (and its mask into img2img's
    inpaint upload). Built inside the tab's Blocks, below the outputs."""

    def __init__(
        self,
        handles: TabHandles,
        controlnet: SdWebuiControlNet,
        generation: GenerationControls,
        settings: Callable[[], SendSettings] = SendSettings,
        elem_prefix: str = "daz_depthmap",
        max_pairs: int = DEPTH_PAIRS,
    ) -> None:
        self.handles = handles
        self.max_pairs = max_pairs  # each pair is two steps of the send's event chain, built once
        self.controlnet = controlnet
        self.generation = generation
        self.settings = settings
        self.units = controlnet.targets()
        p = f"{elem_prefix}_cn"
        with gr.Accordion("Send to ControlNet", open=True, elem_id=p):
            problem = controlnet.problem()
            if problem:
                self.message = gr.Markdown(problem, elem_id=f"{p}_missing")
                self.send = None
                return
            self._build(p)

    # ----------------------------------------------------------------------------------------------------------
    # Building

    def _build(self, p: str) -> None:
        tabs = list(self.units)
        first = tabs[0]
        models = self.controlnet.depth_models()
        with gr.Row():
            self.tab = gr.Radio(tabs, value=first, label="Send to", elem_id=f"{p}_target")
            self.unit = gr.Dropdown(
                self._labels(first), value=self._labels(first)[0], label="Unit", elem_id=f"{p}_unit"
            )
            self.model = gr.Dropdown(
                [KEEP_MODEL, *models],
                value=pick_model(self.settings().preferred_model, models),
                label="Depth model",
                elem_id=f"{p}_model",
            )
        with gr.Row():
            mask = self.generation.inpaint_mask()
            self.send_mask = gr.Checkbox(
                False,
                label="Also send the mask to img2img › Inpaint upload",
                visible=mask is not None and first == "img2img",
                elem_id=f"{p}_mask",
            )
            self.follow_size = gr.Checkbox(
                False, label="Set width/height to the map's aspect (multiples of 8)", elem_id=f"{p}_size"
            )
        self.send = gr.Button("Send to ControlNet", variant="primary", elem_id=f"{p}_send")
        hidden = [f"{t} is hidden (Settings › User interface › Hidden UI tabs)." for t in TABS if t not in tabs]
        self.status = gr.Markdown(" ".join(hidden), elem_id=f"{p}_status")
        # The page script's part: the plan it follows and its report (hidden).
        self.plan = gr.Textbox("", visible=False, elem_id=f"{p}_plan")
        self.report = gr.Textbox("", visible=False, elem_id=f"{p}_report")
        for control in (self.tab, self.unit, self.model, self.send_mask, self.follow_size, self.plan, self.report):
            control.do_not_save_to_config = True  # the page and the settings give their starting values
        self.tab.change(self.choose_tab, inputs=[self.tab], outputs=[self.unit, self.send_mask])
        self._wire()

    def _all_targets(self) -> list[Target]:
        targets: list[Target] = [u for units in self.units.values() for u in units]
        mask = self.generation.inpaint_mask()
        return [*targets, mask] if mask is not None else targets

    def _wire(self) -> None:
        session = self.handles.session
        targets = self._all_targets()
        outputs = list(dict.fromkeys(c for t in targets for c in t.outputs()))
        self.sizes = self.generation.sizes()
        steps = [session, self.plan, self.report, self.status]
        chain = self.send.click(
            self._guarded(self.prepare),
            inputs=[session, self.tab, self.unit, self.send_mask],
            outputs=steps,
        )
        for slot in range(self.max_pairs):
            chain = chain.then(
                self._guarded(_for_slot(self.deliver, slot)),
                inputs=[session, self.plan, self.report],
                outputs=[*outputs, *steps],
                **compat.js(_page_step("reveal", plan=1, report=2, slot=slot)),
            ).then(
                self._guarded(_for_slot(self.configure, slot)),
                inputs=[session, self.plan, self.report, self.model, self.follow_size, *self.sizes],
                outputs=[*outputs, *self.sizes, *steps],
                **compat.js(_page_step("settle", plan=1, report=2, slot=slot)),
            )

    def _labels(self, tab: str) -> list[str]:
        return [u.label for u in self.units.get(tab, [])]

    def _unit(self, tab: str, label: str) -> Target | None:
        return next((u for u in self.units.get(tab, []) if u.label == label), None)

    def _guarded(self, handler: Callable[..., Updates]) -> Callable[..., Updates]:
        """``handler``, with any failure ending the send with a message instead of gradio's error."""

        @functools.wraps(handler)
        def run(*args: Any) -> Updates:
            try:
                return handler(*args)
            except Exception as exc:
                log.exception("daz_depthmap: a send failed")
                problem = markdown_plain(f"{type(exc).__name__}: {exc}")
                return {self.plan: "", self.status: f"Nothing sent: unexpected error ({problem})."}

        return run

    # ----------------------------------------------------------------------------------------------------------
    # Handlers

    def choose_tab(self, tab: str) -> tuple[Any, Any]:
        labels = self._labels(tab)
        mask_here = tab == "img2img" and self.generation.inpaint_mask() is not None
        return compat.update(choices=labels, value=labels[0] if labels else None), compat.update(visible=mask_here)

    def _session(self, token: Any) -> Session:
        return self.handles.sessions.open(token).session

    def prepare(self, token: Any, tab: str, label: str, send_mask: bool) -> Updates:
        """Step 1: the full-resolution images, kept in the session, and the plan the page script follows."""
        session = self._session(token)
        cleared = {self.handles.session: session.token, self.plan: "", self.report: ""}
        unit = self._unit(tab, label)
        if unit is None:
            return {**cleared, self.status: "Nothing sent: choose txt2img or img2img and a unit."}
        shown = session.workspace.shown()
        if shown is None:
            return {
                **cleared,
                self.status: "Nothing sent: no file loaded: drop one or more depth .exr files above first",
            }
        maps = full_maps(shown)
        settings = self.settings()
        pairs: list[Pair] = []
        mask_target = self.generation.inpaint_mask() if send_mask and tab == "img2img" else None
        if mask_target is not None:
            pairs.append(Pair(mask_target, "mask"))
        pairs.append(Pair(unit, "depth", UnitSettings(None, settings.set_preprocessor_model)))
        pending = PendingSend(
            secrets.token_hex(8), maps.name, maps.width, maps.height, maps.params.bits, tab, pairs,
            {"depth": to_8bit(maps.depth), "mask": maps.mask},
        )  # fmt: skip
        with session.lock:
            session.pending = pending
            session.pending_until = self.handles.sessions.clock() + PENDING_SECONDS
        plan = {
            "id": pending.send_id,
            "steps": [{**pair.target.reveal().as_json(), "size": [maps.width, maps.height]} for pair in pairs],
        }
        return {**cleared, self.plan: json.dumps(plan), self.status: f"Sending `{maps.name}` to {unit.where}…"}

    def _pending(self, session: Session, plan: str) -> PendingSend | None:
        try:
            send_id = json.loads(plan).get("id") if plan else None
        except ValueError:
            return None
        pending = session.pending
        return pending if isinstance(pending, PendingSend) and pending.send_id == send_id else None

    def _stop(self, session: Session, message: str) -> Updates:
        with session.lock:
            session.pending = None
        return {self.handles.session: session.token, self.plan: "", self.status: message}

    def deliver(self, slot: int, token: Any, plan: str, report: str) -> Updates:
        """Step 2a of pair ``slot`` (after the page showed its target): the image."""
        session = self._session(token)
        pending = self._pending(session, plan)
        if pending is None or slot >= len(pending.pairs):
            return {self.status: compat.update()}  # nothing (more) to send; an earlier step said why
        failure = report_problem(report)
        if failure:
            return self._stop(session, f"Nothing more sent: {markdown_plain(failure)}.")
        pair = pending.pairs[slot]
        updates = pair.target.deliver(pending.images[pair.image])
        if pair.image == "mask":
            pending.notes.append(
                "mask → img2img › Inpaint upload (img2img now in Inpaint upload mode; add the image to inpaint there)"
            )
        return {**updates, self.status: f"Sending `{pending.name}` to {pair.target.where}…"}

    def configure(
        self, slot: int, token: Any, plan: str, report: str, model: str, follow_size: bool, *sizes: float
    ) -> Updates:
        """Step 2b of pair ``slot`` (after its image settled): the target's settings; after the last pair, the
        generation size and the status line."""
        session = self._session(token)
        pending = self._pending(session, plan)
        if pending is None or slot >= len(pending.pairs):
            return {self.status: compat.update()}
        pair = pending.pairs[slot]
        failure = report_problem(report)
        if failure:
            return self._stop(
                session,
                f"Sent `{pending.name}` to {pair.target.where}, but {markdown_plain(failure)}: its settings were not "
                "set. Check the target before generating, or send again.",
            )
        settings = pair.settings
        if isinstance(settings, UnitSettings) and model and model != KEEP_MODEL:
            settings = UnitSettings(model, settings.set_preprocessor_model)
        configured = pair.target.configure(settings)
        updates = dict(configured.updates)
        if pair.image == "depth":
            pending.done[:0] = ["image", *configured.done]
            pending.notes.extend(configured.notes)
        if slot < len(pending.pairs) - 1:
            return {**updates, self.status: compat.update()}
        # the last pair: finish
        if not self.settings().set_preprocessor_model:
            pending.notes.append("preprocessor and model left as they were (Settings › DAZ Depth)")
        if pending.bits == 16:
            pending.notes.append("the 16-bit map went as 8-bit (ControlNet takes 8-bit images)")
        if follow_size:
            values = dict(zip(self.sizes, sizes, strict=True))
            fitted, note = self.generation.fit(pending.tab, pending.width, pending.height, values)
            updates.update(fitted)
            if note:
                pending.notes.append(note)
        unit = next(p.target for p in pending.pairs if p.image == "depth")
        message = (
            f"Sent `{pending.name}` ({pending.width} × {pending.height}) to **{unit.where}**: "
            f"{', '.join(pending.done)}." + "".join(f" {n[0].upper()}{n[1:]}." for n in pending.notes)
        )
        return {**updates, **self._stop(session, message)}
