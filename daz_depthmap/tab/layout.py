"""The tab's components, built once and held in a typed layout.

Labels, hints and defaults of the options come from :data:`daz_depthmap.params.OPTIONS`. Every component carries
an element id under the tab's prefix, and none is saved to the WebUI's ui-config.json: the tab's starting values
are the Settings page's, not the last ones a user left in the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import gradio as gr

from ..params import OPTION
from . import compat
from .contract import TabContext

BITS_CHOICES = ("8-bit", "16-bit")
PICK_HINT = "Click the preview to read the depth under the cursor."
INTRO = (
    "**DAZ Depth** turns a depth render (DAZ Studio's Iray *Depth* canvas, any float EXR) into a ControlNet depth "
    "map: drop EXRs, set the far cutoff just behind your subject on the histogram, save. PNGs go to `{folder}`."
)
SEED_LABEL = "Noise seed (drawn for this file so preview and PNG match; type another for other noise)"
#: The option checkboxes, two per row, by option name.
CHECKBOX_ROWS = (("compress_map", "mask"), ("invert", "noise"))
#: Height of the preview images on the page, in CSS pixels.
PREVIEW_HEIGHT = 520
#: What the preview shows, by look (:data:`daz_depthmap.session.banding.LOOKS`).
LOOK_LABELS = {"depth": "Depth map", "test": "Test colours", "regions": "Region map"}
#: The preview's label for each look.
PREVIEW_LABELS = {
    "depth": "Depth map preview",
    "test": "Test colours: each band in its colour, shaded by depth",
    "regions": "Region map preview: what Regional Prompter gets",
}
#: The normal encodings offered (daz_depthmap.canvas.normals.options.CONVENTIONS).
NORMAL_CONVENTIONS = ("bae", "sd15")
NORMAL_HELP = (
    "Drop a render's canvases together — `scene-Canvas1-Depth.exr`, `scene-Canvas2-Normal.exr`, `scene.png` (or a "
    "Beauty canvas) — and they are one entry: Save also writes `scene.normal.png` (and `scene.beauty.png` from a "
    "Beauty canvas)."
)
#: How Process all maps the files.
PROCESS_CHOICES = ("each file with its own settings", "every file with this file's recipe")

BANDS_HTML = """
<div class="dazdm-bands" data-max-region="359" data-total-levels="256">
  <div class="dazdm-bands-bar">
    <span class="dazdm-bands-title">Depth bands</span>
    <button type="button" class="dazdm-bands-suggest" disabled
      title="Split at the histogram's near-empty gaps: one band, and one region, per subject">Suggest bands</button>
    <button type="button" class="dazdm-bands-add" aria-pressed="false" disabled
      title="The next click on the histogram adds a split there (Ctrl+click always does)">Add split</button>
    <label class="dazdm-bands-mode-label">Levels
      <select class="dazdm-bands-mode" disabled>
        <option value="pixels">by pixel share</option>
        <option value="depth">by depth span</option>
        <option value="equal">equally</option>
        <option value="manual">as typed</option>
      </select>
    </label>
    <span class="dazdm-bands-total"></span>
    <button type="button" class="dazdm-bands-number" disabled
      title="Every band that holds pixels a region, 0, 1, 2... from near to far">Number regions</button>
  </div>
  <div class="dazdm-bands-hint">One band: the plain map. Ctrl+click the histogram (or Add split, then click) to
    split the depth range; drag a split line to move it. Each band gets its own share of the grey levels.</div>
  <table class="dazdm-bands-table" hidden>
    <thead><tr><th>Colour</th><th>Band</th><th>Depths</th><th>Pixels</th><th>Levels</th><th>Lock</th><th>Label</th>
      <th>Region</th><th></th></tr></thead>
    <tbody></tbody>
  </table>
  <div class="dazdm-bands-problem" role="alert"></div>
  <div class="dazdm-bands-regions" hidden>
    <label><input type="checkbox" class="dazdm-bands-parts"> each connected part its own region</label>
    <label>ignore parts under <input type="number" class="dazdm-bands-min-area" min="0" step="1"> px</label>
    <label>region map size <input type="text" class="dazdm-bands-size" placeholder="as the depth map" size="11"></label>
  </div>
</div>
"""

HISTOGRAM_HTML = """
<div class="dazdm-histo">
  <div class="dazdm-histo-bar">
    <span class="dazdm-histo-title">Depth histogram</span>
    <span class="dazdm-histo-caption"></span>
    <label class="dazdm-log-label"><input type="checkbox" class="dazdm-log" checked> log counts</label>
    <button type="button" class="dazdm-use-suggestion" disabled>Use suggestion</button>
  </div>
  <div class="dazdm-histo-plot">
    <canvas class="dazdm-histo-canvas" aria-label="Depth histogram: click or drag to set the far cutoff"></canvas>
    <div class="dazdm-tip" hidden></div>
    <div class="dazdm-histo-empty">Drop depth .exr files to see their histogram</div>
  </div>
</div>
"""


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


def build_layout(ctx: TabContext, host_controls: Callable[[gr.State, gr.Markdown], None] | None = None) -> TabLayout:
    """Create the components inside the current ``gr.Blocks``; ``host_controls(session, status)`` adds a host's
    controls (the WebUI's send block) below the outputs."""
    p = ctx.elem_prefix
    defaults = ctx.defaults
    session = gr.State(None)
    with gr.Column(elem_id=p, elem_classes=["dazdm-root"]):
        intro = gr.Markdown(INTRO.format(folder=ctx.output_dir), elem_id=f"{p}_intro", elem_classes=["dazdm-intro"])
        with gr.Row(equal_height=False, elem_classes=["dazdm-layout"]):
            with gr.Column(scale=2, min_width=320, elem_classes=["dazdm-side"]):
                upload = gr.File(
                    label="Depth EXR files, or a render's canvases (drop one or many)",
                    file_count="multiple",
                    file_types=[".exr", ".png", ".jpg", ".jpeg"],
                    height=120,
                    elem_id=f"{p}_upload",
                    elem_classes=["dazdm-upload"],
                )
                status = gr.Markdown("", elem_id=f"{p}_status", elem_classes=["dazdm-status"])
                with gr.Group(elem_classes=["dazdm-files-group"]):
                    files = gr.Radio(
                        choices=[], label="Loaded files", elem_id=f"{p}_files", elem_classes=["dazdm-files"]
                    )
                    info = gr.Markdown("", elem_id=f"{p}_info", elem_classes=["dazdm-info"])
                with gr.Group(elem_classes=["dazdm-options"]):
                    with gr.Row():
                        channel = gr.Dropdown(
                            choices=[],
                            label=OPTION["channel"].label,
                            interactive=False,
                            scale=1,
                            elem_id=f"{p}_channel",
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
                        label=SEED_LABEL,
                        value=defaults.seed,
                        precision=0,
                        visible=defaults.noise,
                        elem_id=f"{p}_seed",
                    )
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
                            None,
                            label="Focal length (mm)",
                            info="empty: the EXR header's, else 65",
                            elem_id=f"{p}_focal",
                        )
                        film_mm = gr.Number(
                            None, label="Film width (mm)", info="empty: the header's, else 36", elem_id=f"{p}_film"
                        )
                with gr.Row(elem_classes=["dazdm-actions"]):
                    save = gr.Button("Save this file", variant="primary", scale=2, min_width=100, elem_id=f"{p}_save")
                    process_all = gr.Button("Process all", scale=2, min_width=100, elem_id=f"{p}_process_all")
                    remove = gr.Button("Remove", interactive=False, scale=1, min_width=80, elem_id=f"{p}_remove")
                with gr.Row(elem_classes=["dazdm-downloads"]):
                    depth_file = gr.File(
                        label="Depth PNG (download after Save)", interactive=False, height=80, elem_id=f"{p}_depth_file"
                    )
                    mask_file = gr.File(label="Mask PNG", visible=False, interactive=False, elem_id=f"{p}_mask_file")
                    regions_file = gr.File(
                        label="Region map PNG", visible=False, interactive=False, elem_id=f"{p}_regions_file"
                    )
                    normal_file = gr.File(
                        label="Normal map PNG", visible=False, interactive=False, elem_id=f"{p}_normal_file"
                    )
                    beauty_file = gr.File(
                        label="Beauty PNG", visible=False, interactive=False, elem_id=f"{p}_beauty_file"
                    )
                process_how = gr.Radio(
                    list(PROCESS_CHOICES),
                    value=PROCESS_CHOICES[0],
                    label="Process all maps",
                    elem_id=f"{p}_process_how",
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
                with gr.Accordion("Messages", open=False, elem_id=f"{p}_log_box"):
                    log = gr.Markdown("No messages yet.", elem_id=f"{p}_log", elem_classes=["dazdm-log-text"])
                if host_controls is not None:
                    host_controls(session, status)
            with gr.Column(scale=3, min_width=480, elem_classes=["dazdm-main"]):
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
                bands = gr.HTML(BANDS_HTML, elem_id=f"{p}_bands")
                look = gr.Radio(
                    list(LOOK_LABELS.values()),
                    value=LOOK_LABELS["depth"],
                    label="Preview shows",
                    elem_id=f"{p}_look",
                    elem_classes=["dazdm-look"],
                )
                with gr.Row(elem_classes=["dazdm-previews"]):
                    preview_depth = gr.Image(
                        label=PREVIEW_LABELS["depth"],
                        interactive=False,
                        height=PREVIEW_HEIGHT,
                        show_download_button=False,
                        **compat.lossless_image(),
                        elem_id=f"{p}_preview_depth",
                        elem_classes=["dazdm-preview"],
                    )
                    preview_mask = gr.Image(
                        label="Mask preview",
                        interactive=False,
                        height=PREVIEW_HEIGHT,
                        visible=defaults.mask,
                        show_download_button=False,
                        **compat.lossless_image(),
                        elem_id=f"{p}_preview_mask",
                        elem_classes=["dazdm-preview"],
                    )
                with gr.Row(elem_classes=["dazdm-set-previews"]):
                    preview_normal = gr.Image(
                        label="Normal map preview",
                        interactive=False,
                        visible=False,
                        height=PREVIEW_HEIGHT // 2,
                        show_download_button=False,
                        elem_id=f"{p}_preview_normal",
                        elem_classes=["dazdm-preview"],
                    )
                    legend = gr.Image(
                        label="Which way",
                        interactive=False,
                        visible=False,
                        height=130,
                        min_width=140,
                        scale=0,
                        show_download_button=False,
                        elem_id=f"{p}_legend",
                    )
                    preview_beauty = gr.Image(
                        label="Beauty (for the pose preprocessor)",
                        interactive=False,
                        visible=False,
                        height=PREVIEW_HEIGHT // 2,
                        show_download_button=False,
                        elem_id=f"{p}_preview_beauty",
                        elem_classes=["dazdm-preview"],
                    )
                normal_info = gr.Markdown("", elem_id=f"{p}_normal_info", elem_classes=["dazdm-normal-info"])
                with gr.Row(elem_classes=["dazdm-pick-row"]):
                    pick = gr.Markdown(PICK_HINT, elem_id=f"{p}_pick", elem_classes=["dazdm-pick"])
                    pick_far = gr.Button("Set far cutoff here", size="sm", visible=False, elem_id=f"{p}_pick_far")
                    pick_near = gr.Button("Set near cutoff here", size="sm", visible=False, elem_id=f"{p}_pick_near")
        with gr.Row(elem_classes=["dazdm-hidden"]):
            histogram_data = gr.Textbox(visible=False, elem_id=f"{p}_histogram_data")
            live_request = gr.Textbox(visible=False, elem_id=f"{p}_live_request", elem_classes=["dazdm-live-request"])
            live_done = gr.Textbox(visible=False, elem_id=f"{p}_live_done")
            picked = gr.Number(visible=False, elem_id=f"{p}_picked")
    layout = TabLayout(
        session=session,
        intro=intro,
        upload=upload,
        status=status,
        files=files,
        info=info,
        channel=channel,
        bits=bits,
        options=options,
        seed=seed,
        normal_box=normal_box,
        normal_convention=normal_convention,
        normal_background=normal_background,
        normal_from_depth=normal_from_depth,
        focal_mm=focal_mm,
        film_mm=film_mm,
        save=save,
        process_all=process_all,
        remove=remove,
        depth_file=depth_file,
        mask_file=mask_file,
        regions_file=regions_file,
        normal_file=normal_file,
        beauty_file=beauty_file,
        process_how=process_how,
        export_recipe=export_recipe,
        import_recipe=import_recipe,
        recipe_file=recipe_file,
        log=log,
        histogram=histogram,
        cutoff=cutoff,
        near=near,
        bands=bands,
        look=look,
        preview_depth=preview_depth,
        preview_mask=preview_mask,
        preview_normal=preview_normal,
        legend=legend,
        normal_info=normal_info,
        preview_beauty=preview_beauty,
        pick=pick,
        pick_far=pick_far,
        pick_near=pick_near,
        histogram_data=histogram_data,
        live_request=live_request,
        live_done=live_done,
        picked=picked,
    )
    for component in layout.components():
        component.do_not_save_to_config = True  # the WebUI's ui-config.json must not override the settings
    return layout
