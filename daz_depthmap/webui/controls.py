"""The WebUI's own controls a send may touch: the generation width/height and prompt of txt2img and img2img, and
img2img's "Inpaint upload" mask (the same ids in AUTOMATIC1111 1.10 and Forge)."""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from typing import Any

import numpy as np

from ..tab import compat
from .targets import Bridge, ComponentIndex, Reveal, Target, Updates

#: img2img › Inpaint upload › mask, and the image to inpaint
INPAINT_MASK_ID = "img_inpaint_mask"
INPAINT_BASE_ID = "img_inpaint_base"


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


class InpaintMask(Target):
    """img2img › Inpaint upload's mask. The depth mask goes as it is: the subject white, the far plane black
    ("Inpaint masked" repaints the subject, "Inpaint not masked" the background around it)."""

    tab = "img2img"
    label = "Inpaint upload mask"

    def __init__(self, component: Any) -> None:
        self.component = component

    def outputs(self) -> list[Any]:
        return [self.component]

    def reveal(self) -> Reveal:
        return Reveal(show=(INPAINT_MASK_ID,))

    def deliver(self, image: np.ndarray) -> Updates:
        return {self.component: compat.exact_image(self.component, image)}


class InpaintBase(Target):
    """img2img › Inpaint upload's image: the render a set's beauty gives, so an inpaint of the background around
    the figure (with the depth mask) is one send."""

    tab = "img2img"
    label = "Inpaint upload image"

    def __init__(self, component: Any) -> None:
        self.component = component

    def outputs(self) -> list[Any]:
        return [self.component]

    def reveal(self) -> Reveal:
        return Reveal(show=(INPAINT_BASE_ID,))

    def deliver(self, image: np.ndarray) -> Updates:
        return {self.component: compat.exact_image(self.component, image)}


class GenerationControls(Bridge):
    """Width/height sliders of the generation tabs and img2img's inpaint mask."""

    WANTED = re.compile(rf"^(?:(?:txt2img|img2img)_(?:width|height|prompt)|{INPAINT_MASK_ID}|{INPAINT_BASE_ID})$")

    def __init__(self, index: ComponentIndex, hidden_tabs: Collection[str] = ()) -> None:
        self.index = index
        self.hidden_tabs = frozenset(hidden_tabs)

    def problem(self) -> str | None:
        return None if self.targets() else "img2img's inpaint upload is not on the page"

    def targets(self) -> dict[str, list[Target]]:
        mask = self.inpaint_mask()
        return {"img2img": [mask]} if mask is not None else {}

    def inpaint_mask(self) -> InpaintMask | None:
        component = None if "img2img" in self.hidden_tabs else self.index.get(INPAINT_MASK_ID)
        return InpaintMask(component) if component is not None else None

    def size(self, tab: str) -> tuple[Any, Any] | None:
        """The width and height sliders of ``tab`` (``None`` when hidden or missing)."""
        if tab in self.hidden_tabs:
            return None
        width, height = self.index.get(f"{tab}_width"), self.index.get(f"{tab}_height")
        return (width, height) if width is not None and height is not None else None

    def inpaint_base(self) -> InpaintBase | None:
        component = None if "img2img" in self.hidden_tabs else self.index.get(INPAINT_BASE_ID)
        return InpaintBase(component) if component is not None else None

    def prompt(self, tab: str) -> Any | None:
        """The prompt box of ``tab`` (``None`` when hidden or missing)."""
        return None if tab in self.hidden_tabs else self.index.get(f"{tab}_prompt")

    def sizes(self) -> list[Any]:
        """Every size slider on the page, width before height per tab (the send block reads their values)."""
        return [c for tab in ("txt2img", "img2img") for c in (self.size(tab) or ())]

    def fit(self, tab: str, map_width: int, map_height: int, values: dict[Any, float]) -> tuple[Updates, str | None]:
        """Updates that set ``tab``'s size to the map's aspect at about its current area, and what was done."""
        pair = self.size(tab)
        if pair is None:
            return {}, None
        width_slider, height_slider = pair
        lo, hi = getattr(width_slider, "minimum", 64), getattr(width_slider, "maximum", 2048)
        width, height = fit_size(map_width, map_height, values[width_slider], values[height_slider], lo, hi)
        return {width_slider: width, height_slider: height}, f"width × height of {tab} → {width} × {height}"
