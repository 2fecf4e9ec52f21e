"""Send the canvas set to ControlNet: one click fills up to three units of txt2img or img2img — the depth map with a
depth model, the normal map with a normal model, the beauty render with a pose preprocessor — each with the same
weight, ending step and control mode (the original workflow starts at 0.3 / 0.5 / Balanced), and in img2img the
beauty can become the image to inpaint with the depth mask beside it (the steps are :mod:`.steps`')."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ...depth.mapping import to_8bit
from ...session.batch import full_maps
from ...session.canvas_set import full_beauty, full_normal_map
from ...session.store import Session
from ...tab import compat
from ...tab.contract import TabHandles
from ..controlnet.base import CONTROL_MODES, KEEP_MODEL, TABS, ControlNetBridge, UnitSettings, pick_model
from ..controls import GenerationControls
from ..targets import Target, Updates
from .depth import SendSettings
from .steps import Pair, PendingSend, StepSend, bits_and_size, markdown_plain, new_send_id

#: The most pairs a set's send delivers: the init image and its mask, then three units.
SET_PAIRS = 5
#: Pose preprocessors, preferred first.
POSE_PREPROCESSORS = ("dw_openpose_full", "openpose_full")
#: The parts a set sends to units, their labels and the unit each starts on.
PARTS = (("depth", "Depth map", 0), ("normal", "Normal map", 1), ("pose", "Beauty → pose", 2))
UNIT_SETTING = "Settings › ControlNet › Multi-ControlNet: ControlNet unit number (then Reload UI)"


@dataclass(frozen=True)
class Preset:
    """Weight, ending control step and control mode every unit of a set's send gets."""

    weight: float = 0.3
    guidance_end: float = 0.5
    control_mode: str = CONTROL_MODES[0]


class SetSendBlock(StepSend):
    """ "Send the canvas set to ControlNet", built inside the tab's Blocks below Send to ControlNet."""

    title = "Send the canvas set to ControlNet"

    def __init__(
        self,
        handles: TabHandles,
        controlnet: ControlNetBridge,
        generation: GenerationControls,
        settings: Callable[[], SendSettings] = SendSettings,
        elem_prefix: str = "daz_depthmap",
        preset: Preset = Preset(),  # noqa: B008 - frozen
    ) -> None:
        self.controlnet = controlnet
        self.generation = generation
        self.settings = settings
        self.preset = preset
        self.units = controlnet.targets()
        super().__init__(handles, f"{elem_prefix}_set", SET_PAIRS, open_=False)

    # ----------------------------------------------------------------------------------------------------------
    # Building

    def problem(self) -> str | None:
        return self.controlnet.problem()

    def _labels(self, tab: str) -> list[str]:
        return [u.label for u in self.units.get(tab, [])]

    def _unit(self, tab: str, label: str | None) -> Target | None:
        return next((u for u in self.units.get(tab, []) if u.label == label), None)

    def _hint(self, tab: str) -> str:
        count = len(self._labels(tab))
        if count >= len(PARTS):
            return ""
        return (
            f"ControlNet shows {count} unit{'s' if count != 1 else ''} in {tab}: a set needs {len(PARTS)} to send "
            f"all its parts. Raise {UNIT_SETTING}, or leave parts out."
        )

    def build_controls(self, p: str) -> None:
        tabs = list(self.units)
        first = tabs[0]
        labels = self._labels(first)
        with gr.Row():
            self.tab = gr.Radio(tabs, value=first, label="Send to", elem_id=f"{p}_target")
            self.follow_size = gr.Checkbox(
                False, label="Set width/height to the map's aspect (multiples of 8)", elem_id=f"{p}_size"
            )
        self.hint = gr.Markdown(self._hint(first), elem_id=f"{p}_hint")
        models = {
            "depth": self.controlnet.depth_models(),
            "normal": self.controlnet.models_named("normal"),
            "pose": self.controlnet.models_named("openpose"),
        }
        # each part starts at a model of its kind, chosen by name, so one click gives a working generation (a unit
        # whose model is "None" makes ControlNet refuse to generate); the Settings' depth model where one is set
        depth = self.settings().preferred_model
        preferred = {"depth": "depth" if depth == KEEP_MODEL else depth, "normal": "normalbae", "pose": "openpose"}
        self.use: dict[str, Any] = {}
        self.unit: dict[str, Any] = {}
        self.model: dict[str, Any] = {}
        for part, label, number in PARTS:
            with gr.Row(elem_classes=["dazdm-set-row"]):
                self.use[part] = gr.Checkbox(True, label=label, elem_id=f"{p}_{part}_use", min_width=120)
                self.unit[part] = gr.Dropdown(
                    labels,
                    value=labels[number] if number < len(labels) else None,
                    label="Unit",
                    elem_id=f"{p}_{part}_unit",
                )
                self.model[part] = gr.Dropdown(
                    [KEEP_MODEL, *models[part]],
                    value=self._pick(preferred[part], models[part]),
                    label="Model",
                    elem_id=f"{p}_{part}_model",
                )
                if part == "pose":
                    offered = [c for c in self.controlnet.preprocessors() if "openpose" in c.lower()]
                    start = next((c for c in POSE_PREPROCESSORS if c in offered), offered[0] if offered else None)
                    self.pose_preprocessor = gr.Dropdown(
                        offered, value=start, label="Pose preprocessor", elem_id=f"{p}_pose_preprocessor"
                    )
        with gr.Row():
            self.weight = gr.Slider(
                0.0, 2.0, self.preset.weight, step=0.05, label="Control weight", elem_id=f"{p}_weight"
            )
            self.guidance_end = gr.Slider(
                0.0, 1.0, self.preset.guidance_end, step=0.01, label="Ending control step", elem_id=f"{p}_end"
            )
            self.control_mode = gr.Radio(
                list(CONTROL_MODES), value=self.preset.control_mode, label="Control mode", elem_id=f"{p}_mode"
            )
        base = self.generation.inpaint_base()
        self.init = gr.Checkbox(
            False,
            label="img2img: the beauty as the image to inpaint, the depth mask in Inpaint upload (repaint around "
            "the figure)",
            visible=base is not None and first == "img2img",
            elem_id=f"{p}_init",
        )
        self.send = gr.Button("Send the set to ControlNet", variant="primary", elem_id=f"{p}_send")
        self.status = gr.Markdown("", elem_id=f"{p}_status")
        self.sizes = self.generation.sizes()
        self.tab.change(self.choose_tab, inputs=[self.tab], outputs=[*self.unit.values(), self.hint, self.init])

    @staticmethod
    def _pick(preferred: str, models: list[str]) -> str:
        exact = pick_model(preferred, models)
        if exact != KEEP_MODEL:
            return exact
        return next((m for m in models if preferred.lower() in m.lower()), KEEP_MODEL)

    def remembered(self) -> list[Any]:
        controls = [self.tab, self.follow_size, self.weight, self.guidance_end, self.control_mode, self.init]
        controls += [*self.use.values(), *self.unit.values(), *self.model.values(), self.pose_preprocessor]
        return controls

    def all_targets(self) -> list[Target]:
        targets: list[Target] = [u for units in self.units.values() for u in units]
        extra = [self.generation.inpaint_base(), self.generation.inpaint_mask()]
        return [*targets, *(t for t in extra if t is not None)]

    def choose_tab(self, tab: str) -> list[Any]:
        labels = self._labels(tab)
        units = [
            compat.update(choices=labels, value=labels[number] if number < len(labels) else None)
            for _, _, number in PARTS
        ]
        init_here = tab == "img2img" and self.generation.inpaint_base() is not None
        return [*units, self._hint(tab), compat.update(visible=init_here)]

    # ----------------------------------------------------------------------------------------------------------
    # The send

    def start_inputs(self) -> list[Any]:
        inputs = [self.tab, self.init, self.weight, self.guidance_end, self.control_mode, self.pose_preprocessor]
        for part, _, _ in PARTS:
            inputs += [self.use[part], self.unit[part], self.model[part]]
        return inputs

    def start(
        self,
        session: Session,
        tab: str,
        init: bool,
        weight: float,
        guidance_end: float,
        control_mode: str,
        pose: str | None,
        *choices: Any,
    ) -> PendingSend | str:
        shown = session.workspace.shown()
        if shown is None:
            return "Nothing sent: no file loaded: drop one or more depth .exr files above first"
        chosen = {part: choices[3 * i : 3 * i + 3] for i, (part, _, _) in enumerate(PARTS)}
        notes: list[str] = []
        if chosen["normal"][0] and not shown.has_normals:
            chosen["normal"] = (False, None, None)
            notes.append("no Normal canvas in this set: the normal map was left out (tick Normals from the depth)")
        if chosen["pose"][0] and shown.parts.beauty is None:
            chosen["pose"] = (False, None, None)
            notes.append("no beauty render in this set: the pose unit was left out")
        used = {part: label for part, (use, label, _) in chosen.items() if use}
        if not used:
            return "Nothing sent: tick at least one of depth, normal and pose."
        missing = [part for part, label in used.items() if self._unit(tab, label) is None]
        if missing:
            return (
                f"Nothing sent: choose a unit for the {' and '.join(missing)} map in {tab}. {self._hint(tab)}".strip()
            )
        clash = {label for label in used.values() if list(used.values()).count(label) > 1}
        if clash:
            return f"Nothing sent: {', '.join(sorted(clash))} was chosen for two parts: each part needs its own unit."
        maps = full_maps(shown)
        images = {"depth": to_8bit(maps.depth), "mask": maps.mask}
        if "normal" in used:
            normal = full_normal_map(shown.file, shown.parts, shown.normal)
            assert normal is not None
            images["normal"] = normal.image
        want_init = init and tab == "img2img" and self.generation.inpaint_base() is not None
        if "pose" in used or want_init:
            if shown.parts.beauty is None:
                return "Nothing sent: this set has no beauty render to use as the image to inpaint."
            beauty = full_beauty(shown.file, shown.parts)
            assert beauty is not None
            images["beauty"] = beauty.image
        pairs: list[Pair] = []
        if want_init:
            base, mask = self.generation.inpaint_base(), self.generation.inpaint_mask()
            assert base is not None
            pairs.append(Pair(base, "beauty"))
            if mask is not None:
                pairs.append(Pair(mask, "mask"))
        keep = self.settings().set_preprocessor_model
        for part, label in used.items():
            model = chosen[part][2]
            preprocessors = (pose, *POSE_PREPROCESSORS) if part == "pose" and pose else ("none",)
            settings = UnitSettings(
                None if not model or model == KEEP_MODEL else model,
                keep,
                tuple(p for p in preprocessors if p),
                float(weight),
                float(guidance_end),
                control_mode,
            )
            unit = self._unit(tab, label)
            assert unit is not None
            pairs.append(Pair(unit, "beauty" if part == "pose" else part, settings))
        pending = PendingSend(new_send_id(), maps.name, maps.width, maps.height, maps.params.bits, tab, pairs, images)
        pending.notes.extend(notes)
        pending.extra["parts"] = []
        return pending

    def finish_inputs(self) -> list[Any]:
        return [self.follow_size, *self.sizes]

    def finish_outputs(self) -> list[Any]:
        return list(self.sizes)

    def configured(self, pending: PendingSend, pair: Pair, done: list[str], notes: list[str]) -> None:
        if isinstance(pair.settings, UnitSettings):
            what = {"depth": "depth", "normal": "normal", "beauty": "beauty (pose)"}[pair.image]
            pending.extra["parts"].append(f"{what} → **{pair.target.label}** ({', '.join(['image', *done])})")
        else:
            pending.extra["parts"].append(f"{pair.image} → {pair.target.label}")
        pending.notes.extend(notes)

    def finish(self, pending: PendingSend, follow_size: bool = False, *sizes: float) -> tuple[Updates, str]:
        updates = bits_and_size(pending, self.generation, self.sizes, follow_size, sizes)
        message = (
            f"Sent the set `{markdown_plain(pending.name)}` ({pending.width} × {pending.height}) to {pending.tab}: "
            + "; ".join(pending.extra["parts"])
            + "."
            + "".join(f" {markdown_plain(n[0].upper() + n[1:])}." for n in pending.notes)
        )
        return updates, message


__all__ = ["PARTS", "POSE_PREPROCESSORS", "SET_PAIRS", "Preset", "SetSendBlock", "TABS"]
