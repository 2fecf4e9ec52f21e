"""sd-webui-controlnet (Mikubill, 1.1.4xx) on the AUTOMATIC1111 WebUI: its units as send targets.

Unit ``i`` of tab ``T`` has element ids ``T_controlnet_ControlNet-i_…``; with one unit (the unit-count setting is 1)
they read ``T_controlnet_ControlNet_…`` and there are no unit tabs. The unit's image is a gradio 3 ``gr.Image``
with the sketch tool; an array sent into it becomes its image, with an empty sketch mask.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import gradio as gr
import numpy as np

from ..targets import ComponentIndex, Configured, Reveal, Updates
from .base import (
    CONTROL_MODES,
    KEEP_MODEL,
    TABS,
    ControlNetBridge,
    ControlNetUnitTarget,
    UnitSettings,
    depth_only,
    in_range,
    pick_model,
    set_control_mode,
)

log = logging.getLogger(__name__)

NOT_INSTALLED = (
    "Send to ControlNet needs the ControlNet extension (sd-webui-controlnet), which was not found: install it "
    "from Extensions › Available, then restart the WebUI. Saving depth maps works without it."
)
IDS_CHANGED = (
    "Send to ControlNet could not find ControlNet's unit images (element ids `…_controlnet_ControlNet-N_input_image`): "
    "this ControlNet version is not supported yet. Save the depth map and upload it by hand."
)
NOT_MIKUBILL = (
    "Send to ControlNet supports sd-webui-controlnet on the AUTOMATIC1111 WebUI; this ControlNet uses other "
    "components. Save the depth map and upload it by hand."
)


class ControlNetUnit(ControlNetUnitTarget):
    """One unit of txt2img or img2img (a sketch-tool ``gr.Image``, a slider for the ending step)."""

    def __init__(self, tab: str, number: int, index: ComponentIndex, image_id: str, models: Any) -> None:
        super().__init__(tab, number, index, image_id, models)
        self.image = index.get(image_id)
        self.guidance_end = index.get(f"{self.prefix}_controlnet_ending_control_step_slider")

    def outputs(self) -> list[Any]:
        found = (self.image, self.enable, self.preprocessor, self.model, self.weight, self.guidance_end)
        return [c for c in (*found, self.control_mode) if c is not None]

    def reveal(self) -> Reveal:
        return Reveal(
            show=(self.image_id,),
            tick=self.tick_id,
            wait=self.image_id,
            enable=self.enable_id if self.enable is not None else None,
            sketch=getattr(self.image, "tool", None) == "sketch",
        )

    def deliver(self, image: np.ndarray) -> Updates:
        # gradio 3's Image takes an array as its new value (the {"image", "mask"} dict is only what it hands back);
        # the page starts the sketch mask empty. ControlNet takes 8-bit RGB.
        rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
        return {self.image: rgb}

    def _balance(self, settings: UnitSettings, result: Configured) -> None:
        """Weight, ending step and control mode, where asked and found."""
        for component, value, what in (
            (self.weight, settings.weight, "weight"),
            (self.guidance_end, settings.guidance_end, "ending step"),
        ):
            if value is None:
                continue
            if component is None:
                result.notes.append(f"{what} not set (its slider was not found)")
            elif not in_range(component, value):
                result.notes.append(f"{what} {value:g} not set (outside its slider)")
            else:
                result.updates[component] = value
                result.done.append(f"{what} {value:g}")
        set_control_mode(settings.control_mode, self.control_mode, result)


class SdWebuiControlNet(ControlNetBridge):
    """sd-webui-controlnet's units, on the tabs that are on the page."""

    name = "sd-webui-controlnet"

    unit = ControlNetUnit

    def usable(self, image_id: str) -> bool:
        return isinstance(self.index.get(image_id), gr.Image)

    def found(self) -> bool:
        return bool(self.unit_images(usable_only=True))

    def problem(self) -> str | None:
        if not any(i.startswith(f"{t}_controlnet_") for i in self.index.ids() for t in TABS):
            return NOT_INSTALLED
        images = self.unit_images()
        if not images:
            return IDS_CHANGED
        if not all(self.usable(i) for found in images.values() for _, i in found):
            return NOT_MIKUBILL
        return self.hidden_problem(images)

    def models(self) -> list[str]:
        """ControlNet's current model list: its public module when loaded, else the model dropdown's choices."""
        external = sys.modules.get("internal_controlnet.external_code")
        get_models = getattr(external, "get_models", None)
        if callable(get_models):
            try:
                return [str(name) for name in get_models(update=False)]
            except Exception:  # a ControlNet that changed its API: fall back to the dropdown
                log.warning("daz_depthmap: ControlNet's get_models failed; using a unit's model list", exc_info=True)
        return self.dropdown_models()


# re-exported: older imports of these names from this module keep working
__all__ = [
    "CONTROL_MODES",
    "KEEP_MODEL",
    "TABS",
    "ControlNetUnit",
    "SdWebuiControlNet",
    "UnitSettings",
    "depth_only",
    "pick_model",
]
