"""Forge's built-in ControlNet (lllyasviel/stable-diffusion-webui-forge, ``sd_forge_controlnet``, gradio 4.40): its
units as send targets (see ``../shared/facts/forge.md``).

The element ids follow sd-webui-controlnet's scheme (``T_controlnet_ControlNet-i_…``, always indexed), but a unit's
image is a ``ForgeCanvas``: a plain object whose ``gr.HTML`` block carries the ``…_input_image`` id, and whose
image lives in two hidden textboxes (``LogicalImage``) with one random id ``uuid_<hex>``, told apart by the classes
``logical_image_foreground`` / ``logical_image_background``. Their value is an RGBA PNG data URL on the page and an
H×W×4 uint8 array in Python; an array returned to the background becomes the unit's image. The WebUI reports the
block, then its foreground, then its background: :class:`CanvasCollector` pairs them by that order. Start and end
of the control steps are one range slider (``…_control_step_slider``, a ``(start, end)`` pair).
"""

from __future__ import annotations

import sys
from typing import Any

import gradio as gr
import numpy as np

from ..targets import ComponentIndex, Configured, Reveal, Updates
from .base import (
    IMAGE_ID,
    ControlNetBridge,
    ControlNetUnitTarget,
    UnitSettings,
    in_range,
    set_control_mode,
)

NOT_FOUND = (
    "Send to ControlNet needs Forge's built-in ControlNet (sd_forge_controlnet), which is not on the page: enable it "
    "in Extensions › Installed, then restart Forge. Saving depth maps works without it."
)
NO_CANVAS = (
    "Send to ControlNet could not find the image layers of Forge's ControlNet units (a ForgeCanvas' hidden "
    "`logical_image_background`): this Forge version is not supported yet. Save the depth map and upload it by hand."
)
BACKGROUND, FOREGROUND = "logical_image_background", "logical_image_foreground"


def layer_key(image_id: str, layer: str) -> str:
    """The index key of a unit canvas' layer (its real id is random): ``<image id>:background``."""
    return f"{image_id}:{layer}"


def _classes(component: Any) -> list[str]:
    classes = getattr(component, "elem_classes", None) or []
    return [classes] if isinstance(classes, str) else list(classes)


class CanvasCollector:
    """Keeps each unit canvas' two layers under the unit's image id: the ``logical_image_*`` textboxes reported
    right after the ``gr.HTML`` block that carries ``…_input_image``.

    The API's throwaway copies of the UI (``--api``) report the block's id again, which the index already holds:
    their layers are never kept.
    """

    def __init__(self, index: ComponentIndex) -> None:
        self.index = index
        self.image_id: str | None = None

    def see(self, component: Any) -> None:
        """Called for every component the WebUI reports, before it goes into the index."""
        elem_id = getattr(component, "elem_id", None)
        classes = _classes(component)
        layer = next((name for name in (FOREGROUND, BACKGROUND) if name in classes), None)
        if layer is not None and self.image_id is not None:
            self.index.add(component, as_id=layer_key(self.image_id, layer.split("_")[-1]))
            if layer == BACKGROUND:
                self.image_id = None
            return
        self.image_id = None
        if isinstance(elem_id, str) and IMAGE_ID.match(elem_id) and self.index.get(elem_id) is None:
            self.image_id = elem_id if isinstance(component, gr.HTML) else None  # a gr.Image is no canvas


class ForgeUnit(ControlNetUnitTarget):
    """One unit of txt2img or img2img (a ``ForgeCanvas`` image, a range slider for the steps)."""

    def __init__(self, tab: str, number: int, index: ComponentIndex, image_id: str, models: Any) -> None:
        super().__init__(tab, number, index, image_id, models)
        self.background = index.get(layer_key(image_id, "background"))
        self.steps = index.get(f"{self.prefix}_controlnet_control_step_slider")

    def outputs(self) -> list[Any]:
        found = (self.background, self.enable, self.preprocessor, self.model, self.weight, self.steps)
        return [c for c in (*found, self.control_mode) if c is not None]

    def reveal(self) -> Reveal:
        # the canvas' <img> inside the block shows the background once the canvas script loaded it
        return Reveal(
            show=(self.image_id,),
            tick=self.tick_id,
            wait=self.image_id,
            enable=self.enable_id if self.enable is not None else None,
        )

    def deliver(self, image: np.ndarray) -> Updates:
        # the background's postprocess turns an RGBA array into its PNG data URL (a PIL image when the canvas was
        # built with numpy=False)
        rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
        rgba = np.dstack([rgb[:, :, :3], np.full(rgb.shape[:2], 255, np.uint8)])
        if getattr(self.background, "numpy", True) is False:
            from PIL import Image

            return {self.background: Image.fromarray(rgba, "RGBA")}
        return {self.background: rgba}

    def _balance(self, settings: UnitSettings, result: Configured) -> None:
        if settings.weight is not None:
            if self.weight is None:
                result.notes.append("weight not set (its slider was not found)")
            elif not in_range(self.weight, settings.weight):
                result.notes.append(f"weight {settings.weight:g} not set (outside its slider)")
            else:
                result.updates[self.weight] = settings.weight
                result.done.append(f"weight {settings.weight:g}")
        if settings.guidance_end is not None:
            end = settings.guidance_end
            if self.steps is None:
                result.notes.append("ending step not set (its range slider was not found)")
            elif not in_range(self.steps, end):
                result.notes.append(f"ending step {end:g} not set (outside its range slider)")
            else:
                # one slider for both ends: the start goes back to 0, as the preset's workflow starts there
                result.updates[self.steps] = (0.0, end)
                result.done.append(f"steps 0–{end:g}")
        set_control_mode(settings.control_mode, self.control_mode, result)


class ForgeControlNet(ControlNetBridge):
    """Forge's built-in ControlNet units, on the tabs that are on the page."""

    name = "its built-in ControlNet"

    unit = ForgeUnit

    def usable(self, image_id: str) -> bool:
        return self.index.get(layer_key(image_id, "background")) is not None

    def found(self) -> bool:
        return bool(self.unit_images(usable_only=True))

    def problem(self) -> str | None:
        if not any(IMAGE_ID.match(i) for i in self.index.ids()):
            return NOT_FOUND
        canvases = self.unit_images(usable_only=True)
        if not canvases:
            return NO_CANVAS
        return self.hidden_problem(canvases)

    def models(self) -> list[str]:
        """Forge ControlNet's model list: its ``global_state`` when loaded, else a unit's model dropdown."""
        state = sys.modules.get("lib_controlnet.global_state")
        names = getattr(state, "get_all_controlnet_names", None)
        if callable(names):
            try:
                return [str(n) for n in names() if n != "None"]
            except Exception:  # another Forge: fall back to the dropdown
                pass
        return self.dropdown_models()
