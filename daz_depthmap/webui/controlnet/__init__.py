"""The ControlNet of the page: sd-webui-controlnet on the AUTOMATIC1111 WebUI (:mod:`.a1111`) or Forge's built-in
ControlNet (:mod:`.forge`), twins over one base (:mod:`.base`). :func:`detect` picks one, as adetailer's
``controlnet_ext`` does: a third ControlNet is a third twin and one more candidate here, not an edit of the base."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ..targets import ComponentIndex
from .a1111 import SdWebuiControlNet
from .base import IMAGE_ID, ControlNetBridge
from .forge import ForgeControlNet


@dataclass(frozen=True)
class Detected:
    """Which WebUI and ControlNet the page has: the bridge to use and the line that says so."""

    bridge: ControlNetBridge
    line: str


def detect(index: ComponentIndex, hidden_tabs: Collection[str], forge: bool) -> Detected:
    """The ControlNet of this page: sd-webui-controlnet (gradio images as unit images), Forge's built-in one
    (ForgeCanvas unit images), or none; ``forge`` says whether the WebUI is Forge."""

    webui = "Forge" if forge else "AUTOMATIC1111 WebUI"
    candidates: list[ControlNetBridge] = [SdWebuiControlNet(index, hidden_tabs), ForgeControlNet(index, hidden_tabs)]
    if forge:
        candidates.reverse()
    bridge = next((c for c in candidates if c.found()), candidates[0])
    if not bridge.found():
        if any(IMAGE_ID.match(i) for i in index.ids()):
            return Detected(bridge, f"DAZ Depth: {webui} with a ControlNet of unknown make: {bridge.problem()}")
        line = f"DAZ Depth: {webui}, no ControlNet found: Send to ControlNet is off (saving depth maps works)."
        return Detected(bridge, line)
    problem = bridge.problem()
    if problem:
        return Detected(bridge, f"DAZ Depth: {webui} with {bridge.name}, but Send to ControlNet is off: {problem}")
    return Detected(bridge, f"DAZ Depth: {webui} with {bridge.name} ({bridge.summary()}): Send to ControlNet is on.")
