"""The tab's components, built once section by section (as adetailer's ``ui.py`` does) and held in a typed layout.

Labels, hints and defaults of the options come from :data:`daz_depthmap.params.OPTIONS`, the tab's other texts from
:mod:`.texts`. Every component carries an element id under the tab's prefix, and none is saved to the WebUI's
ui-config.json: the tab's starting values are the Settings page's, not the last ones a user left in the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import gradio as gr

from ..params import OPTION, DepthParams
from . import compat
from .contract import TabContext
from .texts import (
    BITS_CHOICES,
    CHECKBOX_ROWS,
    HISTOGRAM_HTML,
    INTRO,
    LOOK_LABELS,
    NORMAL_CONVENTIONS,
    NORMAL_HELP,
    PICK_HINT,
    PREVIEW_HEIGHT,
    PREVIEW_LABELS,
    PROCESS_CHOICES,
    SEED_LABEL,
    bands_html,
)

#: Components of one section, by their :class:`TabLayout` field name.
Section = dict[str, Any]


@dataclass
class TabLayout:
    """Every component of one built tab (no per-user data: that lives in the session the ``session`` state names)."""

    session: gr.State  # the browser session's token in the server's SessionStore
    intro: gr.Markdown
    upload: gr.File
    status: gr.Markdown
    files: gr.Radio
    info: gr.Markdown
    channel: gr.Dropdown
    bits: gr.Radio
    options: dict[str, gr.Checkbox]  # by DepthParams field: compress_map, mask, invert, noise
    seed: gr.Number
    normal_box: gr.Accordion  # a set's normal options (opened for sets with a Normal canvas)
    normal_convention: gr.Radio
    normal_background: gr.Radio
    normal_from_depth: gr.Checkbox
    focal_mm: gr.Number
    film_mm: gr.Number
    save: gr.Button
    process_all: gr.Button
    remove: gr.Button
    depth_file: gr.File
    mask_file: gr.File
    regions_file: gr.File
    normal_file: gr.File
    beauty_file: gr.File
    process_how: gr.Radio  # each file with its own settings, or all with the shown file's recipe
    export_recipe: gr.Button
    import_recipe: gr.UploadButton
    recipe_file: gr.File
    log: gr.Markdown  # every message of this session, to read again (in a closed accordion)
    histogram: gr.HTML
    cutoff: gr.Slider
    near: gr.Number
    bands: gr.HTML  # the band panel: the page script draws its rows and sends edits through the live path
    look: gr.Radio  # the preview shows the depth map, the bands' test colours or the region map
    preview_depth: gr.Image
    preview_mask: gr.Image
    preview_normal: gr.Image  # the set's normal map (hidden without one)
    legend: gr.Image  # which colour faces which way
    normal_info: gr.Markdown
    preview_beauty: gr.Image  # the set's beauty render, for pose (hidden without one)
    pick: gr.Markdown
    pick_far: gr.Button
    pick_near: gr.Button
    histogram_data: gr.Textbox  # hidden: the file view's JSON for the page script
    live_request: gr.Textbox  # hidden: the page script's cutoff requests
    live_done: gr.Textbox  # hidden: the answers
    picked: gr.Number  # hidden: the depth last picked in the preview

    def components(self) -> list[Any]:
        """Every component, the option checkboxes included."""
        found: list[Any] = []
        for item in fields(self):
            value = getattr(self, item.name)
            found.extend(value.values() if isinstance(value, dict) else [value])
        return found


def _files(p: str) -> Section:
    """The upload, the status line and the loaded files."""
    upload = gr.File(
        label="Depth EXRs or a render's canvases",
        file_count="multiple",
        file_types=[".exr", ".png", ".jpg", ".jpeg"],
        height=140,  # the floating label clear of "Drop File Here", down to 1024 px wide
        elem_id=f"{p}_upload",
        elem_classes=["dazdm-upload"],
    )
    status = gr.Markdown("", elem_id=f"{p}_status", elem_classes=["dazdm-status"])
    with gr.Group(elem_classes=["dazdm-files-group"]):
        files = gr.Radio(choices=[], label="Loaded files", elem_id=f"{p}_files", elem_classes=["dazdm-files"])
        info = gr.Markdown("", elem_id=f"{p}_info", elem_classes=["dazdm-info"])
    return {"upload": upload, "status": status, "files": files, "info": info}


def _options(p: str, defaults: DepthParams) -> Section:
    """The channel, the bit depth, the option checkboxes and the noise seed."""
    with gr.Group(elem_classes=["dazdm-options"]):
        with gr.Row():
            channel = gr.Dropdown(
                choices=[], label=OPTION["channel"].label, interactive=False, scale=1, elem_id=f"{p}_channel"
            )
            bits = gr.Radio(
                list(BITS_CHOICES),
                value=f"{defaults.bits}-bit",
                label=OPTION["bits"].label,
                scale=1,
                elem_id=f"{p}_bits",
            )
        options = {}
        for row in CHECKBOX_ROWS:
            with gr.Row(elem_classes=["dazdm-checks"]):
                for name in row:
                    option = OPTION[name]
                    options[name] = gr.Checkbox(
                        label=option.label,
                        value=getattr(defaults, name),
                        info=option.help[0].upper() + option.help[1:],
                        elem_id=f"{p}_{name}",
                    )
        seed = gr.Number(
            label=SEED_LABEL, value=defaults.seed, precision=0, visible=defaults.noise, elem_id=f"{p}_seed"
        )
    return {"channel": channel, "bits": bits, "options": options, "seed": seed}


def _normals(p: str) -> Section:
    """A canvas set's normal map options, in an accordion (opened for sets with a Normal canvas)."""
    with gr.Accordion("Normal map (canvas sets)", open=False, elem_id=f"{p}_normal_box") as normal_box:
        gr.Markdown(NORMAL_HELP, elem_classes=["dazdm-normal-help"])
        with gr.Row():
            normal_convention = gr.Radio(
                list(NORMAL_CONVENTIONS),
                value="bae",
                label="Encoding",
                info="bae: normalbae / DSINE models; sd15: ControlNet 1.0's control_sd15_normal",
                elem_id=f"{p}_normal_convention",
            )
            normal_background = gr.Radio(
                ["camera", "black"],
                value="camera",
                label="Background",
                info="camera: facing you (128,128,255); black: no normal",
                elem_id=f"{p}_normal_background",
            )
        normal_from_depth = gr.Checkbox(
            False,
            label="Normals from the depth",
            info="For a set without a Normal canvas (or a lone depth file): computed from the float "
            "depth with the camera's focal length",
            elem_id=f"{p}_normal_from_depth",
        )
        with gr.Row():
            focal_mm = gr.Number(
                None, label="Focal length (mm)", info="empty: the EXR header's, else 65", elem_id=f"{p}_focal"
            )
            film_mm = gr.Number(None, label="Film width (mm)", info="empty: the header's, else 36", elem_id=f"{p}_film")
    return {
        "normal_box": normal_box,
        "normal_convention": normal_convention,
        "normal_background": normal_background,
        "normal_from_depth": normal_from_depth,
        "focal_mm": focal_mm,
        "film_mm": film_mm,
    }


def _actions(p: str) -> Section:
    """Save, Process all and Remove, the downloads, and how Process all maps the files."""
    with gr.Row(elem_classes=["dazdm-actions"]):
        save = gr.Button("Save this file", variant="primary", scale=2, min_width=100, elem_id=f"{p}_save")
        process_all = gr.Button("Process all", scale=2, min_width=100, elem_id=f"{p}_process_all")
        remove = gr.Button("Remove", interactive=False, scale=1, min_width=80, elem_id=f"{p}_remove")
    with gr.Row(elem_classes=["dazdm-downloads"]):
        depth_file = gr.File(
            label="Depth PNG (download after Save)", interactive=False, height=80, elem_id=f"{p}_depth_file"
        )
        mask_file = gr.File(label="Mask PNG", visible=False, interactive=False, elem_id=f"{p}_mask_file")
        regions_file = gr.File(label="Region map PNG", visible=False, interactive=False, elem_id=f"{p}_regions_file")
        normal_file = gr.File(label="Normal map PNG", visible=False, interactive=False, elem_id=f"{p}_normal_file")
        beauty_file = gr.File(label="Beauty PNG", visible=False, interactive=False, elem_id=f"{p}_beauty_file")
    return {
        "save": save,
        "process_all": process_all,
        "remove": remove,
        "depth_file": depth_file,
        "mask_file": mask_file,
        "regions_file": regions_file,
        "normal_file": normal_file,
        "beauty_file": beauty_file,
    }


def _batch(p: str) -> Section:
    """How Process all maps the files, export and import of a recipe, and the exported file (a closed accordion)."""
    with gr.Accordion("Process all and recipes", open=False, elem_id=f"{p}_batch_box"):
        process_how = gr.Radio(
            list(PROCESS_CHOICES), value=PROCESS_CHOICES[0], label="Process all maps", elem_id=f"{p}_process_how"
        )
        with gr.Row(elem_classes=["dazdm-recipe"]):
            export_recipe = gr.Button("Export recipe", size="sm", elem_id=f"{p}_export_recipe")
            import_recipe = gr.UploadButton(
                "Import recipe", file_types=[".json"], size="sm", elem_id=f"{p}_import_recipe"
            )
        recipe_file = gr.File(
            label="Recipe (cutoffs, options, bands: map other frames the same way)",
            visible=False,
            interactive=False,
            elem_id=f"{p}_recipe_file",
        )
    return {
        "process_how": process_how,
        "export_recipe": export_recipe,
        "import_recipe": import_recipe,
        "recipe_file": recipe_file,
    }


def _messages(p: str) -> Section:
    """Every message of the session, to read again, in a closed accordion."""
    with gr.Accordion("Messages", open=False, elem_id=f"{p}_log_box"):
        log = gr.Markdown("No messages yet.", elem_id=f"{p}_log", elem_classes=["dazdm-log-text"])
    return {"log": log}


def _cutoffs(p: str) -> Section:
    """The histogram (drawn by the page script), the far cutoff slider and the near cutoff."""
    histogram = gr.HTML(HISTOGRAM_HTML, elem_id=f"{p}_histogram")
    with gr.Row(elem_classes=["dazdm-cutoffs"]):
        cutoff = gr.Slider(
            minimum=0,
            maximum=1,
            value=1,
            step=0.001,
            interactive=False,  # as the empty view has it
            label="Far cutoff (depth clamped here: black)",
            scale=4,
            elem_id=f"{p}_cutoff",
            elem_classes=["dazdm-cutoff"],
        )
        near = gr.Number(
            label="Near cutoff (white)",
            value=None,
            interactive=False,
            scale=1,
            min_width=120,
            elem_id=f"{p}_near",
            elem_classes=["dazdm-near"],
        )
    return {"histogram": histogram, "cutoff": cutoff, "near": near}


def _bands(p: str) -> Section:
    """The band panel (drawn by the page script)."""
    return {"bands": gr.HTML(bands_html(), elem_id=f"{p}_bands")}


def _look(p: str) -> Section:
    """What the preview shows: the depth map, the bands' test colours or the region map."""
    look = gr.Radio(
        list(LOOK_LABELS.values()),
        value=LOOK_LABELS["depth"],
        label="Preview shows",
        elem_id=f"{p}_look",
        elem_classes=["dazdm-look"],
    )
    return {"look": look}


def _preview(label: str, height: int, **kwargs: Any) -> gr.Image:
    """One preview image: not editable, no download button (Save writes the outputs)."""
    return gr.Image(label=label, interactive=False, height=height, show_download_button=False, **kwargs)


def _previews(p: str, defaults: DepthParams) -> Section:
    """The depth and mask previews, a canvas set's normal map (with its legend) and beauty, the normal notes."""
    look = ["dazdm-preview"]
    with gr.Row(elem_classes=["dazdm-previews"]):
        depth = _preview(
            PREVIEW_LABELS["depth"], PREVIEW_HEIGHT, **compat.lossless_image(), elem_id=f"{p}_preview_depth",
            elem_classes=look,
        )  # fmt: skip
        mask = _preview(
            "Mask preview", PREVIEW_HEIGHT, visible=defaults.mask, **compat.lossless_image(),
            elem_id=f"{p}_preview_mask", elem_classes=look,
        )  # fmt: skip
    with gr.Row(elem_classes=["dazdm-set-previews"]):
        normal = _preview(
            "Normal map preview", PREVIEW_HEIGHT // 2, visible=False, elem_id=f"{p}_preview_normal",
            elem_classes=look,
        )  # fmt: skip
        legend = _preview("Which way", 130, visible=False, min_width=140, scale=0, elem_id=f"{p}_legend")
        beauty = _preview(
            "Beauty (for the pose preprocessor)", PREVIEW_HEIGHT // 2, visible=False,
            elem_id=f"{p}_preview_beauty", elem_classes=look,
        )  # fmt: skip
    normal_info = gr.Markdown("", elem_id=f"{p}_normal_info", elem_classes=["dazdm-normal-info"])
    return {
        "preview_depth": depth,
        "preview_mask": mask,
        "preview_normal": normal,
        "legend": legend,
        "preview_beauty": beauty,
        "normal_info": normal_info,
    }


def _pick(p: str) -> Section:
    """The depth under a click on the preview, and the buttons that make it a cutoff."""
    with gr.Row(elem_classes=["dazdm-pick-row"]):
        pick = gr.Markdown(PICK_HINT, elem_id=f"{p}_pick", elem_classes=["dazdm-pick"])
        pick_far = gr.Button("Set far cutoff here", size="sm", visible=False, elem_id=f"{p}_pick_far")
        pick_near = gr.Button("Set near cutoff here", size="sm", visible=False, elem_id=f"{p}_pick_near")
    return {"pick": pick, "pick_far": pick_far, "pick_near": pick_near}


def _hidden(p: str) -> Section:
    """The page script's channels to the server: the file view, live requests and answers, the picked depth."""
    with gr.Row(elem_classes=["dazdm-hidden"]):
        histogram_data = gr.Textbox(visible=False, elem_id=f"{p}_histogram_data")
        live_request = gr.Textbox(visible=False, elem_id=f"{p}_live_request", elem_classes=["dazdm-live-request"])
        live_done = gr.Textbox(visible=False, elem_id=f"{p}_live_done")
        picked = gr.Number(visible=False, elem_id=f"{p}_picked")
    return {"histogram_data": histogram_data, "live_request": live_request, "live_done": live_done, "picked": picked}


def build_layout(ctx: TabContext, host_controls: Callable[[gr.State, gr.Markdown], None] | None = None) -> TabLayout:
    """Create the components inside the current ``gr.Blocks``; ``host_controls(session, status)`` adds a host's
    controls (the WebUI's send block) at the end of the left column."""
    p = ctx.elem_prefix
    parts: Section = {"session": gr.State(None)}
    with gr.Column(elem_id=p, elem_classes=["dazdm-root"]):
        with gr.Row(equal_height=False, elem_classes=["dazdm-layout"]):
            # the work: files, histogram and cutoffs, bands, then the options folded away
            with gr.Column(scale=5, min_width=420, elem_classes=["dazdm-side"]):
                parts["intro"] = gr.Markdown(
                    INTRO.format(folder=ctx.output_dir), elem_id=f"{p}_intro", elem_classes=["dazdm-intro"]
                )
                parts |= _files(p)
                parts |= _cutoffs(p)
                parts |= _bands(p)
                parts |= _options(p, ctx.defaults)
                parts |= _normals(p)
                parts |= _batch(p)
                parts |= _messages(p)
                if host_controls is not None:  # the send block: its dropdowns must not open in a scrolling column
                    host_controls(parts["session"], parts["status"])
            # the result and what to do with it: a column that stays in view (sticky, style.css)
            with gr.Column(scale=4, min_width=380, elem_classes=["dazdm-main", "dazdm-result"]):
                parts |= _look(p)
                parts |= _previews(p, ctx.defaults)
                parts |= _pick(p)
                parts |= _actions(p)
        parts |= _hidden(p)
    layout = TabLayout(**parts)
    for component in layout.components():
        component.do_not_save_to_config = True  # the WebUI's ui-config.json must not override the settings
    return layout
