"""Send to ControlNet: ControlNet's units found by element id, and the send block of the WebUI tab.

The WebUI creates ControlNet's components (txt2img and img2img) before extension tabs are built, and reports each
one through ``on_after_component``; :class:`ComponentIndex` keeps the ones this module needs. A
:class:`ControlNetBridge` turns them into units and into gradio updates: :class:`MikubillControlNet` for
sd-webui-controlnet on gradio 3 now; Forge's built-in ControlNet (gradio 4, other components) can be a second
implementation of the same interface.

A send runs in three steps, because ControlNet's image only shows a value that lands while it is visible, and its
listeners choke on an image that is still settling:

1. ``prepare`` (Python): the full-resolution maps; on success a plan for the page script.
2. ``daz_depthmap_controlnet.js`` shows the target tab, accordion and unit (img2img: ticks "Upload independent
   control image", which clears the image, and waits for it), then ``send_image`` (Python) puts the image there.
3. After a short pause (script), ``send_settings`` (Python): Enable, preprocessor, model, width/height.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

import gradio as gr
import numpy as np

from .context import TabHandles
from .ui import js_listener

log = logging.getLogger(__name__)

TARGETS = ("txt2img", "img2img")

#: the model choice that leaves the unit's model as it is
KEEP_MODEL = "Keep the unit's model"

#: img2img › Inpaint upload › mask (a WebUI component, same id in Forge)
INPAINT_MASK_ID = "img_inpaint_mask"

#: element ids the index keeps: ControlNet's (``{tab}_controlnet_…``), generation size, inpaint upload mask
_WANTED_ID = re.compile(r"^(?:(?:txt2img|img2img)_(?:controlnet_.+|width|height)|img_inpaint_mask)$")

_MIKUBILL_IMAGE_ID = re.compile(r"^(txt2img|img2img)_controlnet_ControlNet(?:-(\d+))?_input_image$")

NOT_INSTALLED = (
    "Send to ControlNet needs the ControlNet extension (sd-webui-controlnet), which was not found: install it "
    "from Extensions › Available, then restart the WebUI. Saving depth maps works without it."
)
IDS_CHANGED = (
    "Send to ControlNet could not find ControlNet's unit images (element ids `…_controlnet_ControlNet-N_input_image`): "
    "this ControlNet version is not supported yet. Save the depth map and upload it by hand."
)
NOT_MIKUBILL = (
    "Send to ControlNet supports sd-webui-controlnet on the AUTOMATIC1111 WebUI; this ControlNet (Forge's built-in "
    "one?) uses other components. Save the depth map and upload it by hand."
)


class ComponentIndex:
    """Components of the WebUI page by element id, as ``on_after_component`` reports them.

    The first component seen with an id wins: with ``--api`` the WebUI builds every script's UI again in a
    throwaway Blocks, and those copies are never on the page. :meth:`clear` forgets everything (Reload UI builds
    a new page).
    """

    def __init__(self) -> None:
        self._by_id: dict[str, Any] = {}

    def add(self, component: Any) -> None:
        """Keep ``component`` if its elem_id is one this module uses and was not seen before."""
        elem_id = getattr(component, "elem_id", None)
        if isinstance(elem_id, str) and _WANTED_ID.match(elem_id) and elem_id not in self._by_id:
            self._by_id[elem_id] = component

    def get(self, elem_id: str) -> Any | None:
        return self._by_id.get(elem_id)

    def ids(self) -> list[str]:
        return list(self._by_id)

    def clear(self) -> None:
        self._by_id.clear()


@dataclass(frozen=True, eq=False)
class Unit:
    """One ControlNet unit of txt2img or img2img.

    The components receive values from Python; the ids tell the page script what to show (and tick) first.
    """

    target: str  # "txt2img" or "img2img"
    label: str  # what the unit chooser shows: "Unit 0"
    image: Any
    enable: Any | None
    preprocessor: Any | None
    model: Any | None
    image_id: str
    tick_id: str | None = None  # ticked by the page before the image lands (img2img "Upload independent ...")
    enable_id: str | None = None

    @property
    def where(self) -> str:
        return f"{self.target} › ControlNet {self.label}"


class ControlNetBridge(Protocol):
    """What the send block needs from a ControlNet implementation: find units, send to a unit."""

    def problem(self) -> str | None:
        """Why nothing can be sent (ControlNet missing, unknown version, targets hidden); ``None`` when units exist."""

    def units(self) -> dict[str, list[Unit]]:
        """The units of each target that is on the page, in order."""

    def depth_models(self) -> list[str]:
        """ControlNet's own model names (``"name [hash]"``) with "depth" in them."""

    def send_image(self, unit: Unit, image: np.ndarray) -> dict[Any, Any]:
        """Updates that put an 8-bit RGB image into the unit."""

    def send_settings(
        self, unit: Unit, model: str | None, set_preprocessor_model: bool
    ) -> tuple[dict[Any, Any], list[str]]:
        """Updates that enable the unit (and set preprocessor "none" and ``model``), plus notes on what was not set."""


def _choices(component: Any) -> list[str]:
    return [c[1] if isinstance(c, tuple) else c for c in (getattr(component, "choices", None) or [])]


def depth_only(names: Collection[Any]) -> list[str]:
    """The names with "depth" in them (any case), without ``"None"`` and duplicates, in their order."""
    return [n for n in dict.fromkeys(names) if isinstance(n, str) and n != "None" and "depth" in n.lower()]


class MikubillControlNet:
    """sd-webui-controlnet (Mikubill, 1.1.4xx) on gradio 3.

    Unit ``i`` of ``tab`` has ids ``{tab}_controlnet_ControlNet-{i}_…``; with one unit (the unit-count setting is
    1) the ids read ``{tab}_controlnet_ControlNet_…`` and there are no unit tabs.
    """

    def __init__(self, index: ComponentIndex, hidden_tabs: Collection[str] = ()) -> None:
        self.index = index
        self.hidden_tabs = frozenset(hidden_tabs)

    def _images(self) -> dict[str, list[tuple[int, str]]]:
        """``{target: [(unit number, image id), ...]}`` for every target, hidden or not."""
        found: dict[str, list[tuple[int, str]]] = {}
        for elem_id in self.index.ids():
            match = _MIKUBILL_IMAGE_ID.match(elem_id)
            if match:
                found.setdefault(match[1], []).append((int(match[2] or 0), elem_id))
        return {target: sorted(found[target]) for target in TARGETS if target in found}

    def problem(self) -> str | None:
        if not any(i.startswith(f"{t}_controlnet_") for i in self.index.ids() for t in TARGETS):
            return NOT_INSTALLED
        images = self._images()
        if not images:
            return IDS_CHANGED
        if not all(isinstance(self.index.get(i), gr.Image) for found in images.values() for _, i in found):
            return NOT_MIKUBILL
        if not self.units():
            hidden = " and ".join(t for t in TARGETS if t in images)
            return (
                f"Send to ControlNet has nowhere to send: {hidden} {'is' if ' and ' not in hidden else 'are'} hidden "
                "(Settings › User interface › Hidden UI tabs)."
            )
        return None

    def units(self) -> dict[str, list[Unit]]:
        units: dict[str, list[Unit]] = {}
        for target, found in self._images().items():
            if target in self.hidden_tabs:
                continue  # never rendered: wiring its components would fail (InvalidBlockError)
            for number, image_id in found:
                image = self.index.get(image_id)
                if not isinstance(image, gr.Image):
                    continue
                prefix = image_id[: -len("_input_image")]
                tick_id = f"{prefix}_controlnet_same_img2img_checkbox" if target == "img2img" else None
                enable_id = f"{prefix}_controlnet_enable_checkbox"
                units.setdefault(target, []).append(
                    Unit(
                        target=target,
                        label=f"Unit {number}",
                        image=image,
                        enable=self.index.get(enable_id),
                        preprocessor=self.index.get(f"{prefix}_controlnet_preprocessor_dropdown"),
                        model=self.index.get(f"{prefix}_controlnet_model_dropdown"),
                        image_id=image_id,
                        tick_id=tick_id if tick_id and self.index.get(tick_id) is not None else None,
                        enable_id=enable_id if self.index.get(enable_id) is not None else None,
                    )
                )
        return units

    def _all_models(self) -> list[str]:
        """ControlNet's current model list: its public module when loaded, else the model dropdown's choices."""
        external = sys.modules.get("internal_controlnet.external_code")
        get_models = getattr(external, "get_models", None)
        if callable(get_models):
            try:
                return [str(name) for name in get_models(update=False)]
            except Exception:  # a ControlNet that changed its API: fall back to the dropdown
                pass
        for target_units in self.units().values():
            for unit in target_units:
                if unit.model is not None:
                    return [c for c in _choices(unit.model) if c != "None"]
        return []

    def depth_models(self) -> list[str]:
        return depth_only(self._all_models())

    def send_image(self, unit: Unit, image: np.ndarray) -> dict[Any, Any]:
        # gradio 3's Image takes an array as the new value (a {"image", "mask"} dict is only what it hands back);
        # the page starts the sketch mask empty.
        return {unit.image: image}

    def send_settings(
        self, unit: Unit, model: str | None, set_preprocessor_model: bool
    ) -> tuple[dict[Any, Any], list[str]]:
        updates: dict[Any, Any] = {}
        notes: list[str] = []
        if unit.enable is not None:
            updates[unit.enable] = True
        else:
            notes.append("Enable not ticked (its checkbox was not found)")
        if not set_preprocessor_model:
            return updates, notes
        if unit.preprocessor is None:
            notes.append("preprocessor not set (its dropdown was not found)")
        elif "none" in _choices(unit.preprocessor):
            updates[unit.preprocessor] = "none"
        else:
            notes.append('preprocessor not set ("none" is not among its choices)')
        if model:
            if unit.model is None:
                notes.append("model not set (its dropdown was not found)")
            elif model in self._all_models():
                updates[unit.model] = model
            else:
                notes.append(f"model `{model}` not set: it is not in ControlNet's model list any more")
        return updates, notes


def find_bridge(index: ComponentIndex, hidden_tabs: Collection[str] = ()) -> ControlNetBridge:
    """The ControlNet implementation whose components are on the page (only sd-webui-controlnet for now)."""
    return MikubillControlNet(index, hidden_tabs)


class GenerationControls:
    """The WebUI's own components a send may touch: width/height of txt2img/img2img, the inpaint upload mask."""

    def __init__(self, index: ComponentIndex, hidden_tabs: Collection[str] = ()) -> None:
        self.index = index
        self.hidden_tabs = frozenset(hidden_tabs)

    def size(self, target: str) -> tuple[Any, Any] | None:
        if target in self.hidden_tabs:
            return None
        width, height = self.index.get(f"{target}_width"), self.index.get(f"{target}_height")
        return (width, height) if width is not None and height is not None else None

    def inpaint_mask(self) -> Any | None:
        return None if "img2img" in self.hidden_tabs else self.index.get(INPAINT_MASK_ID)


# ------------------------------------------------------------------------------------------------------------------
# Values


def control_image(depth: np.ndarray) -> np.ndarray:
    """The depth map as ControlNet takes it: 8-bit RGB (16-bit maps rounded to the nearest 8-bit level)."""
    if depth.dtype == np.uint16:
        depth = ((depth.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif depth.dtype != np.uint8:
        raise ValueError(f"expected a uint8 or uint16 depth map, got {depth.dtype}")
    return np.repeat(depth[:, :, None], 3, axis=2)


def fit_size(
    map_width: int, map_height: int, width: float, height: float, lo: float = 64, hi: float = 2048, step: int = 8
) -> tuple[int, int]:
    """A generation size with the map's aspect and about the current area, in multiples of ``step``.

    Kept within ``lo``..``hi`` on both sides (the aspect gives way only where both limits cannot hold).
    """
    lo_steps = math.ceil(lo / step)
    hi_steps = max(lo_steps, math.floor(hi / step))
    aspect = map_width / map_height
    area = max(float(width) * float(height), 1.0)
    w, h = math.sqrt(area * aspect), math.sqrt(area / aspect)
    shrink = min(1.0, hi_steps * step / max(w, h))
    w, h = w * shrink, h * shrink
    grow = max(1.0, lo_steps * step / min(w, h))
    w, h = w * grow, h * grow

    def steps(value: float) -> int:
        return min(hi_steps, max(lo_steps, round(value / step)))

    return steps(w) * step, steps(h) * step


def pick_model(preferred: str, models: list[str]) -> str:
    """The model choice to start with: the preferred one, or the same name with another hash, else keep."""
    if preferred in models:
        return preferred
    name = preferred.split(" [")[0].strip().lower()
    same = [m for m in models if m.split(" [")[0].strip().lower() == name] if name else []
    return same[0] if same else KEEP_MODEL


# ------------------------------------------------------------------------------------------------------------------
# The send block


@dataclass(frozen=True)
class SendSettings:
    """The WebUI settings a send reads (plain values; see ``daz_depthmap.webui``)."""

    preferred_model: str = KEEP_MODEL
    set_preprocessor_model: bool = True


@dataclass
class Pending:
    """A send between its steps (kept in the browser session's gr.State)."""

    target: str
    unit: str
    name: str
    image: np.ndarray
    mask: np.ndarray | None
    width: int
    height: int
    bits: int
    sent: list[str] = field(default_factory=list)


class SendBlock:
    """Controls that send the current depth map to a ControlNet unit (built inside the tab's Blocks)."""

    def __init__(
        self,
        handles: TabHandles,
        bridge: ControlNetBridge,
        generation: GenerationControls,
        settings: Callable[[], SendSettings] = SendSettings,
        elem_prefix: str = "daz_depthmap",
    ) -> None:
        self.handles = handles
        self.bridge = bridge
        self.generation = generation
        self.settings = settings
        self.units = bridge.units()
        p = f"{elem_prefix}_cn"
        with gr.Accordion("Send to ControlNet", open=True, elem_id=p):
            problem = bridge.problem()
            if problem:
                self.message = gr.Markdown(problem, elem_id=f"{p}_missing")
                self.send = None
                return
            self._build(p)

    def _build(self, p: str) -> None:
        targets = list(self.units)
        first = targets[0]
        models = self.bridge.depth_models()
        with gr.Row():
            self.target = gr.Radio(targets, value=first, label="Send to", elem_id=f"{p}_target")
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
        notes = [f"{t} is hidden (Settings › User interface › Hidden UI tabs)." for t in TARGETS if t not in targets]
        self.status = gr.Markdown(" ".join(notes), elem_id=f"{p}_status")
        # The page script's part: the plan it follows and its report (hidden, never saved to ui-config.json).
        self.plan = gr.Textbox("", visible=False, elem_id=f"{p}_plan")
        self.report = gr.Textbox("", visible=False, elem_id=f"{p}_report")
        for hidden in (self.plan, self.report):
            hidden.do_not_save_to_config = True
        self.pending = gr.State(None)
        # the page and the settings give these their starting values, not ui-config.json
        for control in (self.target, self.unit, self.model):
            control.do_not_save_to_config = True

        self.target.change(self.choose_target, inputs=[self.target], outputs=[self.unit, self.send_mask])
        image_outputs = [u.image for units in self.units.values() for u in units]
        if mask is not None:
            image_outputs.append(mask)
        settings_outputs = [
            c for units in self.units.values() for u in units for c in (u.enable, u.preprocessor, u.model) if c
        ]
        self.sizes = [c for t in self.units for c in (self.generation.size(t) or ())]
        (
            self.send.click(
                self._guarded(self.prepare),
                inputs=[self.handles.session, self.target, self.unit, self.send_mask],
                outputs=[self.pending, self.plan, self.report, self.status],
            )
            .then(
                self._guarded(self.send_image),
                inputs=[self.pending, self.plan, self.report],
                outputs=[*image_outputs, self.pending, self.plan, self.status],
                **js_listener(_page_step("prepare", plan=1, report=2)),
            )
            .then(
                self._guarded(self.send_settings),
                inputs=[self.pending, self.plan, self.model, self.follow_size, *self.sizes],
                outputs=[*settings_outputs, *self.sizes, self.pending, self.plan, self.status],
                **js_listener(_page_step("settle", plan=1)),
            )
        )

    def _labels(self, target: str) -> list[str]:
        return [u.label for u in self.units.get(target, [])]

    def _unit(self, target: str, label: str) -> Unit | None:
        return next((u for u in self.units.get(target, []) if u.label == label), None)

    def _guarded(self, handler: Callable[..., dict[Any, Any]]) -> Callable[..., dict[Any, Any]]:
        """``handler``, with any failure ending the send with a message instead of gradio's error."""

        @functools.wraps(handler)
        def run(*args: Any) -> dict[Any, Any]:
            try:
                return handler(*args)
            except Exception as exc:
                log.exception("daz_depthmap: Send to ControlNet failed")
                problem = _plain(f"{type(exc).__name__}: {exc}")
                return {self.pending: None, self.plan: "", self.status: f"Nothing sent: unexpected error ({problem})."}

        return run

    # Handlers ------------------------------------------------------------------------------------------------

    def choose_target(self, target: str) -> tuple[dict[str, Any], dict[str, Any]]:
        labels = self._labels(target)
        mask_here = target == "img2img" and self.generation.inpaint_mask() is not None
        return gr.update(choices=labels, value=labels[0] if labels else None), gr.update(visible=mask_here)

    def prepare(self, session: Any, target: str, label: str, send_mask: bool) -> dict[Any, Any]:
        """Step 1: the full-resolution maps and the plan the page script follows to show the unit."""
        unit = self._unit(target, label)
        cleared = {self.pending: None, self.plan: "", self.report: ""}
        if unit is None:
            return {**cleared, self.status: "Nothing sent: choose txt2img or img2img and a unit."}
        try:
            maps = self.handles.full_maps(session)
        except ValueError as exc:
            return {**cleared, self.status: f"Nothing sent: {_plain(str(exc))}"}
        mask = self.generation.inpaint_mask() if send_mask and target == "img2img" else None
        pending = Pending(
            target, label, maps.name, control_image(maps.depth), maps.mask if mask is not None else None,
            maps.width, maps.height, maps.params.bits,
        )  # fmt: skip
        plan = {
            "show": [INPAINT_MASK_ID, unit.image_id] if mask is not None else [unit.image_id],
            "tick": unit.tick_id,
            "wait": unit.image_id,
            "enable": unit.enable_id,
        }
        return {
            **cleared,
            self.pending: pending,
            self.plan: json.dumps(plan),
            self.status: f"Sending `{maps.name}` to {unit.where}…",
        }

    def send_image(self, pending: Pending | None, plan: str, report: str) -> dict[Any, Any]:
        """Step 2 (after the page showed the unit): the image, and the mask if asked."""
        if pending is None or not plan:
            return {self.status: gr.update()}  # step 1 said why
        unit = self._unit(pending.target, pending.unit)
        failure = _report_problem(report)
        if unit is None or failure:
            problem = _plain(failure or "the unit is gone")
            return {self.pending: None, self.plan: "", self.status: f"Nothing sent: {problem}."}
        updates = self.bridge.send_image(unit, pending.image)
        mask = self.generation.inpaint_mask()
        if pending.mask is not None and mask is not None:
            updates[mask] = pending.mask
            pending.sent.append(
                "mask → img2img › Inpaint upload (img2img now in Inpaint upload mode; add the image to inpaint there)"
            )
        pending.image = np.empty((0, 0, 3), np.uint8)  # the page has it now; free the memory
        return {**updates, self.pending: pending, self.status: f"Sending `{pending.name}` to {unit.where}…"}

    def send_settings(
        self, pending: Pending | None, plan: str, model: str, follow_size: bool, *sizes: float
    ) -> dict[Any, Any]:
        """Step 3: Enable, preprocessor "none", the model, the generation size; the status line says what was done."""
        if pending is None or not plan:
            return {self.status: gr.update()}
        unit = self._unit(pending.target, pending.unit)
        if unit is None:
            return {self.pending: None, self.plan: "", self.status: "Nothing sent: the unit is gone."}
        settings = self.settings()
        chosen = model if model and model != KEEP_MODEL else None
        updates, notes = self.bridge.send_settings(unit, chosen, settings.set_preprocessor_model)
        done = ["image"]
        if unit.enable in updates:
            done.append("Enable")
        if unit.preprocessor in updates:
            done.append("preprocessor none")
        if unit.model in updates:
            done.append(f"model `{updates[unit.model]}`")
        if not settings.set_preprocessor_model:
            notes.append("preprocessor and model left as they were (Settings › DAZ Depth)")
        if pending.bits == 16:
            notes.append("the 16-bit map went as 8-bit (ControlNet takes 8-bit images)")
        extra = list(pending.sent)
        slider_pair = self.generation.size(pending.target)
        if follow_size and slider_pair is not None:
            index = self.sizes.index(slider_pair[0])
            lo, hi = getattr(slider_pair[0], "minimum", 64), getattr(slider_pair[0], "maximum", 2048)
            width, height = fit_size(pending.width, pending.height, sizes[index], sizes[index + 1], lo, hi)
            updates[slider_pair[0]], updates[slider_pair[1]] = width, height
            extra.append(f"width × height of {pending.target} → {width} × {height}")
        message = (
            f"Sent `{pending.name}` ({pending.width} × {pending.height}) to **{unit.where}**: {', '.join(done)}."
            + "".join(f" {s[0].upper()}{s[1:]}." for s in extra + notes)
        )
        return {**updates, self.pending: None, self.plan: "", self.status: message}


def _plain(text: str) -> str:
    """``text`` shown as it is in a Markdown status line (markup characters escaped)."""
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


def _page_step(name: str, **indexes: int) -> str:
    """The ``_js`` of a step: the page script's function, or the inputs unchanged when the script is missing."""
    call = f"dazDepthmapControlNet.{name}(args, {json.dumps(indexes)})"
    return f"(...args) => (window.dazDepthmapControlNet ? {call} : args)"


def _report_problem(report: str) -> str | None:
    """What went wrong on the page, from the script's report; ``None`` when the unit is shown."""
    if not report:
        return (
            "the page script that opens the ControlNet unit did not run (javascript/daz_depthmap_controlnet.js). "
            "Reload the page and send again"
        )
    try:
        parsed = json.loads(report)
    except ValueError:
        return f"the page script sent an unreadable report ({report[:80]!r})"
    if isinstance(parsed, dict) and parsed.get("ok") is True:
        return None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return str(error or "the page could not show the ControlNet unit")
