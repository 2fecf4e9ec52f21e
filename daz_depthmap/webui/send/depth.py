"""Send to ControlNet: the current depth map into a unit of txt2img or img2img, and its mask into img2img's
inpaint upload (the steps are :mod:`.steps`')."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ...depth.mapping import to_8bit
from ...session.batch import full_maps
from ...session.store import Session
from ...tab import compat
from ...tab.contract import TabHandles
from ..controlnet.base import KEEP_MODEL, TABS, ControlNetBridge, UnitSettings, pick_model
from ..controls import GenerationControls
from ..targets import Target, Updates
from .steps import PENDING_SECONDS, Pair, PendingSend, StepSend, bits_and_size, new_send_id, report_problem

log = logging.getLogger(__name__)

#: The most (target, image) pairs a depth map's send delivers: the map to a unit, its mask to the inpaint upload.
DEPTH_PAIRS = 2

__all__ = ["DEPTH_PAIRS", "PENDING_SECONDS", "Pair", "PendingSend", "SendBlock", "SendSettings", "report_problem"]


@dataclass(frozen=True)
class SendSettings:
    """The WebUI settings a send reads (plain values; see ``daz_depthmap.webui.extension``)."""

    preferred_model: str = KEEP_MODEL
    set_preprocessor_model: bool = True


class SendBlock(StepSend):
    """ "Send to ControlNet": the current depth map into a unit of txt2img or img2img (and its mask into img2img's
    inpaint upload). Built inside the tab's Blocks, below the outputs."""

    title = "Send to ControlNet"

    def __init__(
        self,
        handles: TabHandles,
        controlnet: ControlNetBridge,
        generation: GenerationControls,
        settings: Callable[[], SendSettings] = SendSettings,
        elem_prefix: str = "daz_depthmap",
        max_pairs: int = DEPTH_PAIRS,
        detected: str = "",
    ) -> None:
        self.controlnet = controlnet
        self.detected = detected
        self.generation = generation
        self.settings = settings
        self.units = controlnet.targets()
        super().__init__(handles, f"{elem_prefix}_cn", max_pairs)

    # ----------------------------------------------------------------------------------------------------------
    # Building

    def problem(self) -> str | None:
        return self.controlnet.problem()

    def notice(self) -> str:
        return self.detected

    def build_controls(self, p: str) -> None:
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
        self.sizes = self.generation.sizes()
        self.tab.change(self.choose_tab, inputs=[self.tab], outputs=[self.unit, self.send_mask])

    def remembered(self) -> list[Any]:
        return [self.tab, self.unit, self.model, self.send_mask, self.follow_size]

    def all_targets(self) -> list[Target]:
        targets: list[Target] = [u for units in self.units.values() for u in units]
        mask = self.generation.inpaint_mask()
        return [*targets, mask] if mask is not None else targets

    def _labels(self, tab: str) -> list[str]:
        return [u.label for u in self.units.get(tab, [])]

    def _unit(self, tab: str, label: str) -> Target | None:
        return next((u for u in self.units.get(tab, []) if u.label == label), None)

    def choose_tab(self, tab: str) -> tuple[Any, Any]:
        labels = self._labels(tab)
        mask_here = tab == "img2img" and self.generation.inpaint_mask() is not None
        return compat.update(choices=labels, value=labels[0] if labels else None), compat.update(visible=mask_here)

    # ----------------------------------------------------------------------------------------------------------
    # The send

    def start_inputs(self) -> list[Any]:
        return [self.tab, self.unit, self.send_mask]

    def start(self, session: Session, tab: str, label: str, send_mask: bool) -> PendingSend | str:
        unit = self._unit(tab, label)
        if unit is None:
            return "Nothing sent: choose txt2img or img2img and a unit."
        shown = session.workspace.shown()
        if shown is None:
            return "Nothing sent: no file loaded: drop one or more depth .exr files above first"
        maps = full_maps(shown)
        settings = self.settings()
        pairs: list[Pair] = []
        mask_target = self.generation.inpaint_mask() if send_mask and tab == "img2img" else None
        if mask_target is not None:
            pairs.append(Pair(mask_target, "mask"))
        pairs.append(Pair(unit, "depth", UnitSettings(None, settings.set_preprocessor_model)))
        return PendingSend(
            new_send_id(), maps.name, maps.width, maps.height, maps.params.bits, tab, pairs,
            {"depth": to_8bit(maps.depth), "mask": maps.mask},
        )  # fmt: skip

    def finish_inputs(self) -> list[Any]:
        return [self.model, self.follow_size, *self.sizes]

    def finish_outputs(self) -> list[Any]:
        return list(self.sizes)

    def pair_settings(self, pair: Pair, model: str = KEEP_MODEL, *_values: Any) -> Any:
        settings = pair.settings
        if isinstance(settings, UnitSettings) and model and model != KEEP_MODEL:
            return UnitSettings(model, settings.set_preprocessor_model)
        return settings

    def configured(self, pending: PendingSend, pair: Pair, done: list[str], notes: list[str]) -> None:
        if pair.image == "mask":
            pending.notes.append(
                "mask → img2img › Inpaint upload (img2img now in Inpaint upload mode; add the image to inpaint there)"
            )
        if pair.image == "depth":
            pending.done[:0] = ["image", *done]
            pending.notes.extend(notes)

    def finish(
        self, pending: PendingSend, model: str = KEEP_MODEL, follow_size: bool = False, *sizes: float
    ) -> tuple[Updates, str]:
        if not self.settings().set_preprocessor_model:
            pending.notes.append("preprocessor and model left as they were (Settings › DAZ Depth)")
        updates = bits_and_size(pending, self.generation, self.sizes, follow_size, sizes)
        unit = next(p.target for p in pending.pairs if p.image == "depth")
        message = (
            f"Sent `{pending.name}` ({pending.width} × {pending.height}) to **{unit.where}**: "
            f"{', '.join(pending.done)}." + "".join(f" {n[0].upper()}{n[1:]}." for n in pending.notes)
        )
        return updates, message
