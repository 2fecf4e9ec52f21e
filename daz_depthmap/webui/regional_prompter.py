"""sd-webui-regional-prompter (hako-mikan, 2025 on the AUTOMATIC1111 WebUI 1.10, gradio 3): its Mask mode as a
send target (see ``../shared/facts/regional-prompter.md`` for where each fact comes from).

Per generation tab (``t2i``/``i2i`` in its element ids) Regional Prompter has:

- an accordion whose hidden "Active" checkbox (``InputAccordionImpl``, a ``gr.Checkbox`` labelled "Regional
  Prompter") has the numbered id ``input-accordion-m-NNN-checkbox``: the number comes from a class counter, so the
  box is told apart by where it is built — just before its tab's mask canvas (:class:`ActiveBoxCollector`);
- the mode tabs ``RP_mode{t2i,i2i}`` (tab items ``tMatrix``/``tMask``/``tPrompt``): selecting ``tMask`` fires the
  tab's select event, which sets the mode Regional Prompter generates with;
- the region canvas ``polymask{t2i,i2i}``, a ``gr.Image`` with gradio 3's sketch tool: an array sent into it becomes
  its image, and at generation Regional Prompter detects the region colours in it again.

The region map must hold Regional Prompter's exact colours, drawn and scaled nearest-neighbour, at the
generation's width and height; each region needs one BREAK chunk in the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import gradio as gr
import numpy as np

from ..tab import compat
from .targets import Bridge, ComponentIndex, Configured, Reveal, Target, Updates

TABS = {"txt2img": "t2i", "img2img": "i2i"}

NOT_INSTALLED = (
    "Send to Regional Prompter needs the Regional Prompter extension (hako-mikan/sd-webui-regional-prompter): "
    "install it from Extensions › Available (search \u201cRegional Prompter\u201d), then restart the WebUI. "
    "Region maps are saved either way (NAME.regions.png)."
)
#: the Mask tab's id in Regional Prompter's mode tabs
MASK_TAB = "tMask"
ACTIVE_LABEL = "Regional Prompter"

_ACCORDION_BOX = re.compile(r"^input-accordion-m-\d+-checkbox$")
_CANVAS = re.compile(r"^polymask(t2i|i2i)$")


def active_id(tab: str) -> str:
    """The index key of ``tab``'s Active checkbox (its real id is numbered by build order)."""
    return f"daz_rp_active_{tab}"


class ActiveBoxCollector:
    """Keeps each generation tab's Active checkbox: the accordion box seen last before that tab's mask canvas.

    The WebUI reports components in build order, and Regional Prompter builds its accordion (with the box) before
    the mode tabs and the canvas. The API's throwaway copy of the UI (``--api``) builds the canvas id again, which
    the index already holds: its box is never kept.
    """

    def __init__(self, index: ComponentIndex) -> None:
        self.index = index
        self.last_box: Any = None

    def see(self, component: Any, label: Any = None) -> None:
        """Called for every component the WebUI reports, before it goes into the index."""
        elem_id = getattr(component, "elem_id", None)
        if not isinstance(elem_id, str):
            return
        if _ACCORDION_BOX.match(elem_id) and (label or getattr(component, "label", None)) == ACTIVE_LABEL:
            self.last_box = component
            return
        match = _CANVAS.match(elem_id)
        if match and self.index.get(elem_id) is None and self.last_box is not None:
            tab = next(t for t, short in TABS.items() if short == match[1])
            self.index.add(self.last_box, as_id=active_id(tab))
            self.last_box = None


class RegionalPrompterMask(Target):
    """Regional Prompter's mask canvas of one generation tab, with its Active box and mode tabs."""

    def __init__(self, tab: str, index: ComponentIndex) -> None:
        short = TABS[tab]
        self.tab = tab
        self.label = "Regional Prompter"
        self.canvas_id = f"polymask{short}"
        self.canvas = index.get(self.canvas_id)
        # the setting "Use old active check box" makes it a plain "Active" checkbox with an id of its own
        self.active = index.get(active_id(tab)) or index.get(f"RP_active{short}")
        self.modes = index.get(f"RP_mode{short}")
        self.use_base = index.get(f"RP_usebase{short}")

    @property
    def where(self) -> str:
        return f"{self.tab} › Regional Prompter › Mask"

    def missing(self) -> list[str]:
        """What this Regional Prompter lacks that a send needs, in words."""
        found = []
        if self.canvas is not None and not isinstance(self.canvas, gr.Image):
            found.append(
                f"its mask canvas as gradio 3's sketch image (#{self.canvas_id} is a gr.{type(self.canvas).__name__}: "
                "Regional Prompter's gradio 4 code, as on Forge, which this send does not fill yet)"
            )
        elif not isinstance(self.canvas, gr.Image) or getattr(self.canvas, "tool", None) != "sketch":
            found.append(f"its mask canvas as a sketch image (#{self.canvas_id})")
        if not isinstance(self.active, gr.Checkbox):
            found.append(f"its Active checkbox (labelled \u201c{ACTIVE_LABEL}\u201d, or #RP_active{TABS[self.tab]})")
        if self.modes is None:
            found.append(f"its mode tabs (#RP_mode{TABS[self.tab]})")
        return found

    def outputs(self) -> list[Any]:
        return [c for c in (self.canvas, self.active, self.modes) if c is not None]

    def reveal(self) -> Reveal:
        # opening the accordion and selecting the Mask tab (its select event sets the mode) show the canvas
        return Reveal(show=(self.canvas_id,), wait=self.canvas_id, sketch=True)

    def deliver(self, image: np.ndarray) -> Updates:
        rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
        return {self.canvas: rgb}

    def configure(self, settings: Any) -> Configured:
        return Configured(
            {self.active: True, self.modes: compat.update(selected=MASK_TAB)}, ["Active", "Mask mode"], []
        )


class RegionalPrompter(Bridge):
    """Regional Prompter's Mask mode in txt2img and img2img, on the tabs that are on the page."""

    WANTED = re.compile(
        r"^(?:polymask(?:t2i|i2i)|RP_mode(?:t2i|i2i)|RP_usebase(?:t2i|i2i)|RP_active(?:t2i|i2i)|daz_rp_active_\w+)$"
    )

    def __init__(self, index: ComponentIndex, hidden_tabs: Collection[str] = ()) -> None:
        self.index = index
        self.hidden_tabs = frozenset(hidden_tabs)

    def installed(self) -> bool:
        return any(self.index.get(f"polymask{short}") is not None for short in TABS.values())

    def problem(self) -> str | None:
        if not self.installed():
            return NOT_INSTALLED
        masks = [RegionalPrompterMask(tab, self.index) for tab in TABS if tab not in self.hidden_tabs]
        usable = [m for m in masks if not m.missing()]
        if usable:
            return None
        if not masks:
            return "Send to Regional Prompter has nowhere to send: txt2img and img2img are hidden."
        lacking = "; ".join(f"{m.tab}: {', '.join(m.missing())}" for m in masks)
        return (
            f"This Regional Prompter version is not supported: not found {lacking}. Save the region map and upload "
            "NAME.regions.png into its Mask tab by hand."
        )

    def targets(self) -> dict[str, list[Target]]:
        found: dict[str, list[Target]] = {}
        for tab in TABS:
            if tab in self.hidden_tabs:
                continue
            mask = RegionalPrompterMask(tab, self.index)
            if not mask.missing():
                found[tab] = [mask]
        return found
