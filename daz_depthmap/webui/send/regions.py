"""Send to Regional Prompter: the current file's region map into Regional Prompter's Mask mode (Active ticked, the
Mask tab selected, the map at the generation's size), and a prompt skeleton — one BREAK chunk per region, with the
band labels — to put into the prompt box, never over text already there unless asked (the steps are
:mod:`.steps`')."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ...bands.regions import region_prompt
from ...session.batch import region_maps
from ...session.store import Session
from ...tab import compat
from ...tab.contract import TabHandles
from ..controls import GenerationControls
from ..regional_prompter import RegionalPrompter, RegionalPrompterMask
from ..targets import Target, Updates
from .steps import Pair, PendingSend, StepSend, markdown_plain, new_send_id

NO_REGIONS = (
    "Nothing sent: no band in use has a region number. Split the depth range into bands (Suggest bands numbers "
    "its regions) or give bands numbers in the Region column (Number regions)."
)
#: the base chunk's line of a skeleton for "Use base prompt"
BASE_LINE = "base prompt (pixels in no region get it alone)"


class RegionSendBlock(StepSend):
    """ "Send to Regional Prompter", built inside the tab's Blocks below Send to ControlNet."""

    title = "Send to Regional Prompter"

    def __init__(
        self,
        handles: TabHandles,
        prompter: RegionalPrompter,
        generation: GenerationControls,
        elem_prefix: str = "daz_depthmap",
    ) -> None:
        self.prompter = prompter
        self.generation = generation
        self.masks = prompter.targets()
        super().__init__(handles, f"{elem_prefix}_rp", max_pairs=1, open_=False)

    # ----------------------------------------------------------------------------------------------------------
    # Building

    def problem(self) -> str | None:
        return self.prompter.problem()

    def build_controls(self, p: str) -> None:
        tabs = list(self.masks)
        with gr.Row():
            self.tab = gr.Radio(tabs, value=tabs[0], label="Send to", elem_id=f"{p}_target")
            self.at_size = gr.Checkbox(
                True,
                label="Region map at the generation's width × height (nearest-neighbour: colours stay exact)",
                elem_id=f"{p}_at_size",
            )
        self.send = gr.Button("Send to Regional Prompter", variant="primary", elem_id=f"{p}_send")
        self.status = gr.Markdown("", elem_id=f"{p}_status")
        self.skeleton = gr.Textbox(
            "",
            label="Prompt skeleton: one chunk per region in region order (edit the lines, then put them in the prompt)",
            lines=4,
            visible=False,
            elem_id=f"{p}_skeleton",
        )
        with gr.Row():
            self.insert = gr.Button("Put into the empty prompt", visible=False, size="sm", elem_id=f"{p}_insert")
            self.replace = gr.Button("Replace the prompt", visible=False, size="sm", elem_id=f"{p}_replace")
        self.sizes = self.generation.sizes()
        self.prompts = [c for tab in tabs if (c := self.generation.prompt(tab)) is not None]
        self.use_base = [m.use_base for m in self._masks() if m.use_base is not None]
        prompt_inputs = [self.skeleton, self.tab, *self.prompts]
        self.insert.click(self.put, inputs=prompt_inputs, outputs=[*self.prompts, self.status])
        self.replace.click(self.put_over, inputs=prompt_inputs, outputs=[*self.prompts, self.status])

    def remembered(self) -> list[Any]:
        return [self.tab, self.at_size, self.skeleton]

    def _masks(self) -> list[RegionalPrompterMask]:
        return [t for targets in self.masks.values() for t in targets if isinstance(t, RegionalPrompterMask)]

    def all_targets(self) -> list[Target]:
        return list(self._masks())

    # ----------------------------------------------------------------------------------------------------------
    # The send

    def start_inputs(self) -> list[Any]:
        return [self.tab, self.at_size, *self.sizes]

    def start(self, session: Session, tab: str, at_size: bool, *sizes: float) -> PendingSend | str:
        target = next(iter(self.masks.get(tab, [])), None)
        if target is None:
            return "Nothing sent: choose txt2img or img2img."
        shown = session.workspace.shown()
        if shown is None:
            return "Nothing sent: no file loaded: drop one or more depth .exr files above first"
        notes = []
        size = None
        pair = self.generation.size(tab)
        if at_size and pair is not None:
            values = dict(zip(self.sizes, sizes, strict=True))
            size = (int(values[pair[0]]), int(values[pair[1]]))
            map_aspect = shown.file.width / shown.file.height
            if abs(size[0] / size[1] - map_aspect) > 0.01 * map_aspect:
                notes.append(
                    f"the generation's {size[0]} × {size[1]} has another aspect than the map's "
                    f"{shown.file.width} × {shown.file.height}: the regions are stretched (Send to ControlNet can "
                    "set width/height to the map's aspect first)"
                )
        regions = region_maps(shown, size)
        if regions is None or not regions.regions:
            return NO_REGIONS
        height, width = regions.image.shape[:2]
        pending = PendingSend(
            new_send_id(), shown.stem, width, height, 8, tab, [Pair(target, "regions")],
            {"regions": regions.image},
        )  # fmt: skip
        pending.notes.extend([*regions.notes, *notes])
        pending.extra["regions"] = regions.regions
        return pending

    def finish_inputs(self) -> list[Any]:
        return list(self.use_base)

    def finish_outputs(self) -> list[Any]:
        return [self.skeleton, self.insert, self.replace]

    def finish(self, pending: PendingSend, *use_base: bool) -> tuple[Updates, str]:
        target = pending.pairs[0].target
        based = (
            isinstance(target, RegionalPrompterMask)
            and target.use_base is not None
            and any(value for mask, value in zip(self.use_base, use_base, strict=False) if mask is target.use_base)
        )
        regions = pending.extra["regions"]
        skeleton = region_prompt(regions, BASE_LINE if based else None)
        count = len(regions)
        message = (
            f"Sent the region map of `{pending.name}` ({pending.width} × {pending.height}, {count} region"
            f"{'s' if count != 1 else ''}) to **{target.where}**: {', '.join(pending.done)}. "
            f"The prompt needs {count + (1 if based else 0)} BREAK chunks: the skeleton below has them."
            + "".join(f" {markdown_plain(n[0].upper() + n[1:])}." for n in pending.notes)
        )
        updates: Updates = {
            self.skeleton: compat.update(value=skeleton, visible=True),
            self.insert: compat.update(visible=True),
            self.replace: compat.update(visible=True),
        }
        return updates, message

    # ----------------------------------------------------------------------------------------------------------
    # The prompt

    def _prompt_of(self, tab: str) -> Any | None:
        component = self.generation.prompt(tab)
        return component if component in self.prompts else None

    def put(self, skeleton: str, tab: str, *prompts: str) -> Updates:
        """The skeleton into ``tab``'s prompt when it is empty; a prompt with text is left as it is."""
        target = self._prompt_of(tab)
        if target is None:
            return {self.status: f"{tab}'s prompt box was not found: copy the lines by hand."}
        current = dict(zip(self.prompts, prompts, strict=True)).get(target) or ""
        if current.strip():
            return {
                self.status: f"{tab}'s prompt is not empty, so it was left as it is: **Replace the prompt** puts the "
                "skeleton in its place, or copy the lines you need."
            }
        return {target: skeleton, self.status: f"The skeleton is in {tab}'s prompt: fill in each region's line."}

    def put_over(self, skeleton: str, tab: str, *prompts: str) -> Updates:
        """The skeleton in place of ``tab``'s prompt (the user asked for it)."""
        target = self._prompt_of(tab)
        if target is None:
            return {self.status: f"{tab}'s prompt box was not found: copy the lines by hand."}
        return {target: skeleton, self.status: f"{tab}'s prompt replaced by the skeleton: fill in each region's line."}
