"""A stand-in Forge page (lllyasviel/stable-diffusion-webui-forge, gradio 4.40) with its built-in ControlNet.

Built to ``shared/facts/forge.md`` (a real install, main @ dfdcbab6) and Forge's sources (``modules/ui.py``,
``modules/ui_components.py``, ``modules_forge/forge_canvas/canvas.py``,
``extensions-builtin/sd_forge_controlnet/scripts/controlnet.py`` and ``lib_controlnet/controlnet_ui/
controlnet_ui_group.py``), written for these tests, not copied. Only what a send to ControlNet touches:

- Top tabs labelled ``Txt2img`` / ``Img2img`` (``#tab_txt2img``, ``#tab_img2img``) and an extra ``Spaces`` tab;
  ``hidden_tabs`` holds those capitalised labels. Each generation tab: a "Generation" sub-tab (not the selected
  one), prompt, ``{tab}_width`` / ``{tab}_height`` sliders; img2img's own input is a ForgeCanvas (``img2img_image``)
  and "Inpaint upload" keeps a ``gr.Image`` mask (``img_inpaint_mask``, type pil, RGBA), as in Forge.
- ControlNet: ``#{tab}_controlnet`` > accordion "ControlNet Integrated" (``#controlnet``, closed) >
  ``#{tab}_controlnet_accordions`` > one ``InputAccordion`` per unit ("ControlNet Unit i", closed; the header
  checkbox is added by the page script). Per unit ``{tab}_controlnet_ControlNet-{i}_…``: the image panel (hidden in
  img2img until "Upload independent control image" is ticked; ticking clears the image, as ControlNet's
  ``fn_same_checked`` does) with a "Single Image" / "Batch Folder" tab pair, ``_input_image`` = the ForgeCanvas
  (``modules_forge.forge_canvas.canvas``: an HTML block + two hidden ``LogicalImage`` textboxes, ``numpy=True``),
  Enable (``_controlnet_enable_checkbox``, class ``cnet-unit-enabled``; it and the accordion's header checkbox
  follow each other through DOM change events only, and a file chosen in the canvas ticks it), Pixel Perfect,
  img2img's ``_controlnet_same_img2img_checkbox``, the control-type radio (changing it resets preprocessor and
  model), preprocessor and model dropdowns (Forge spells "None" so), ``_controlnet_control_weight_slider``,
  ``_controlnet_control_step_slider`` (ONE ``gradio_rangeslider.RangeSlider``, 0.0.6 as Forge pins it: gradio 4.40
  has no range slider of its own; value a ``(start, end)`` pair, mirrored into two ``gr.State`` as Forge does),
  ``_controlnet_control_mode_radio`` and ``_controlnet_resize_mode_radio`` (txt2img only visible).
- With ``api=True`` every unit is built twice more per tab in a throw-away Blocks (``modules/api/api.py``): the
  ids (and a canvas of new random ``uuid_…``) come three times through ``on_after_component``; the first is on the
  page.
- ``probe=True`` adds a button per tab (``{tab}_standin_probe``) that reports, per unit, what ControlNet's Python
  side would receive: the background's kind, shape, dtype, channels, levels and alpha, the foreground's shape,
  Enable, preprocessor, model, weight, step range and control mode (and img2img's inpaint mask shape).

Guesses and simplifications: the unit starts with preprocessor ``depth_midas`` (Forge: "None"), so a test sees it
change; the model list is made up; no Photopea, pose editor, preview, mask upload, batch upload or advanced
sliders; the canvas script imitates behaviour, not every detail (see ``modules_forge/forge_canvas/canvas.py``);
Forge's ``repair`` of component keywords and its ``_js`` mapping are not imitated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

PAGE_SCRIPT = Path(__file__).with_name("standin_forge.js").read_text(encoding="utf-8")
PREPROCESSORS = ["None", "depth_midas", "depth_zoe", "canny", "normalbae", "openpose_full", "dw_openpose_full"]
MODELS = [
    "None",
    "control_v11p_sd15_canny [d14c016b]",
    "control_v11f1p_sd15_depth [cfd03158]",
    "control_v11p_sd15_normalbae [316696f1]",
    "control_v11p_sd15_openpose [cab727d4]",
    "t2iadapter_depth_sd14v1 [fc6cd1da]",
]
DEPTH_MODEL = "control_v11f1p_sd15_depth [cfd03158]"
NORMAL_MODEL = "control_v11p_sd15_normalbae [316696f1]"
POSE_MODEL = "control_v11p_sd15_openpose [cab727d4]"
START_PREPROCESSOR = "depth_midas"
CONTROL_MODES = ["Balanced", "My prompt is more important", "ControlNet is more important"]
RESIZE_MODES = ["Just Resize", "Crop and Resize", "Resize and Fill"]
#: Forge's tab labels (hidden_tabs holds these) and ids
TAB_LABELS = {"txt2img": "Txt2img", "img2img": "Img2img"}


@dataclass
class ForgeUnit:
    prefix: str
    canvas: Any  # ForgeCanvas: .block, .foreground, .background
    accordion: Any  # the InputAccordion's hidden checkbox (.accordion is the accordion)
    enable: Any
    preprocessor: Any
    model: Any
    weight: Any
    timestep_range: Any
    control_mode: Any
    type_filter: Any
    panel: Any
    independent: Any | None = None


@dataclass
class Page:
    demo: gr.Blocks
    units: dict[str, list[ForgeUnit]] = field(default_factory=dict)
    sliders: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    inpaint_mask: Any = None
    tabs: list[tuple[Any, str, str]] = field(default_factory=list)
    settings_components: dict[str, Any] = field(default_factory=dict)


def controlnet_units(tab: str, count: int) -> list[ForgeUnit]:
    """Forge's ControlNet ``ui()`` for ``tab``: the outer accordion and ``count`` unit accordions."""
    from modules.ui_components import InputAccordion

    elem = f"{tab}_controlnet"
    units = []
    with (
        gr.Group(elem_id=elem),
        gr.Accordion("ControlNet Integrated", open=False, elem_id="controlnet", elem_classes=["controlnet"]),
        gr.Row(elem_id=f"{elem}_accordions", elem_classes="accordions"),
    ):
        for i in range(count):
            with InputAccordion(
                value=False, label=f"ControlNet Unit {i}", elem_classes=["cnet-unit-enabled-accordion"]
            ) as accordion:
                units.append(_unit(tab, f"{elem}_ControlNet-{i}", accordion))
    return units


def _unit(tab: str, prefix: str, accordion: Any) -> ForgeUnit:
    from gradio_rangeslider import RangeSlider
    from modules.ui_components import FormRow
    from modules_forge.forge_canvas.canvas import ForgeCanvas

    is_img2img = tab == "img2img"
    with gr.Group(visible=not is_img2img) as panel, gr.Tabs():
        with (
            gr.Tab(label="Single Image"),
            gr.Row(elem_classes=["cnet-image-row"], equal_height=True),
            gr.Group(elem_classes=["cnet-input-image-group"]),
        ):
            canvas = ForgeCanvas(
                elem_id=f"{prefix}_input_image", elem_classes=["cnet-image"], contrast_scribbles=True, height=300,
                numpy=True,
            )  # fmt: skip
        with gr.Tab(label="Batch Folder"):
            gr.Textbox(label="Input Directory", elem_id=f"{prefix}_batch_image_dir")
    with FormRow(elem_classes=["controlnet_main_options"]):
        enable = gr.Checkbox(
            label="Enable",
            value=False,
            elem_id=f"{prefix}_controlnet_enable_checkbox",
            elem_classes=["cnet-unit-enabled"],
        )
        gr.Checkbox(label="Pixel Perfect", value=False, elem_id=f"{prefix}_controlnet_pixel_perfect_checkbox")
    independent = None
    with gr.Row(elem_classes="controlnet_img2img_options"):
        if is_img2img:
            independent = gr.Checkbox(
                label="Upload independent control image",
                value=False,
                elem_id=f"{prefix}_controlnet_same_img2img_checkbox",
                elem_classes=["cnet-unit-same_img2img"],
            )
    type_filter = gr.Radio(
        ["All", "Canny", "Depth"],
        value="All",
        label="Control Type",
        elem_id=f"{prefix}_controlnet_type_filter_radio",
        elem_classes="controlnet_control_type_filter_group",
    )
    with gr.Row(elem_classes=["controlnet_preprocessor_model", "controlnet_row"]):
        preprocessor = gr.Dropdown(
            PREPROCESSORS,
            value=START_PREPROCESSOR,
            label="Preprocessor",
            elem_id=f"{prefix}_controlnet_preprocessor_dropdown",
        )
        model = gr.Dropdown(MODELS, value="None", label="Model", elem_id=f"{prefix}_controlnet_model_dropdown")
    with gr.Row(elem_classes=["controlnet_weight_steps", "controlnet_row"]):
        weight = gr.Slider(
            label="Control Weight",
            value=1.0,
            minimum=0.0,
            maximum=2.0,
            step=0.05,
            elem_id=f"{prefix}_controlnet_control_weight_slider",
            elem_classes="controlnet_control_weight_slider",
        )
        timestep_range = RangeSlider(
            label="Timestep Range",
            minimum=0,
            maximum=1.0,
            value=(0.0, 1.0),
            elem_id=f"{prefix}_controlnet_control_step_slider",
            elem_classes="controlnet_control_step_slider",
        )
        guidance_start, guidance_end = gr.State(0.0), gr.State(1.0)
    timestep_range.change(lambda x: (x[0], x[1]), inputs=[timestep_range], outputs=[guidance_start, guidance_end])
    control_mode = gr.Radio(
        CONTROL_MODES,
        value="Balanced",
        label="Control Mode",
        elem_id=f"{prefix}_controlnet_control_mode_radio",
        elem_classes="controlnet_control_mode_radio",
    )
    gr.Radio(
        RESIZE_MODES,
        value="Crop and Resize",
        label="Resize Mode",
        elem_id=f"{prefix}_controlnet_resize_mode_radio",
        elem_classes="controlnet_resize_mode_radio",
        visible=not is_img2img,
    )
    if independent is not None:
        independent.change(
            lambda checked: (gr.update(value=None), gr.update(visible=checked)),
            inputs=[independent],
            outputs=[canvas.background, panel],
            show_progress="hidden",
        )
    type_filter.change(
        lambda kind: (gr.update(value="None"), gr.update(value="None")),
        inputs=[type_filter],
        outputs=[preprocessor, model],
        show_progress="hidden",
    )
    return ForgeUnit(
        prefix, canvas, accordion, enable, preprocessor, model, weight, timestep_range, control_mode, type_filter,
        panel, independent,
    )  # fmt: skip


def describe_image(value: Any) -> dict[str, Any]:
    """What ControlNet's Python side gets from a unit's background: None, or an H x W x 4 uint8 array."""
    if value is None:
        return {"kind": "none"}
    if not isinstance(value, np.ndarray):
        return {"kind": type(value).__name__}
    rgb = value[:, :, :3] if value.ndim == 3 else value
    return {
        "kind": "array",
        "shape": list(value.shape),
        "dtype": str(value.dtype),
        "channels": int(value.shape[2]) if value.ndim == 3 else 1,
        "rgb_equal": bool(value.ndim == 3 and (rgb == rgb[:, :, :1]).all()),
        "min": int(rgb.min()),
        "max": int(rgb.max()),
        "corner": int(value[0, 0, 0]) if value.ndim == 3 else int(value[0, 0]),  # top-left red level
        "red_sum": int(value[..., 0].astype(np.int64).sum()),
        "alpha": [int(value[:, :, 3].min()), int(value[:, :, 3].max())]
        if value.ndim == 3 and value.shape[2] == 4
        else None,
    }


def _probe(found: list[ForgeUnit], mask: Any) -> None:
    button = gr.Button("Probe", elem_id=f"{found[0].prefix.split('_')[0]}_standin_probe")
    out = gr.Textbox(label="Probe", elem_id=f"{found[0].prefix.split('_')[0]}_standin_probe_out")
    fields_per_unit = 9
    readers: list[Any] = []
    for u in found:
        readers += [
            u.canvas.background, u.canvas.foreground, u.enable, u.preprocessor, u.model, u.weight, u.timestep_range,
            u.control_mode, u.accordion,
        ]  # fmt: skip
    if mask is not None:
        readers.append(mask)

    def read(*values: Any) -> str:
        report: dict[str, Any] = {}
        for n, u in enumerate(found):
            bg, fg, enable, pre, model, weight, steps, mode, header = values[
                n * fields_per_unit : (n + 1) * fields_per_unit
            ]
            report[u.prefix] = {
                "background": describe_image(bg),
                "foreground": None if fg is None else list(np.asarray(fg).shape),
                "enable": enable,
                "accordion": header,
                "preprocessor": pre,
                "model": model,
                "weight": weight,
                "steps": list(steps) if steps is not None else None,
                "control_mode": mode,
            }
        if mask is not None:
            last = values[-1]
            report["inpaint_mask"] = None if last is None else list(np.asarray(last).shape)
        return json.dumps(report)

    button.click(read, inputs=readers, outputs=[out])


def generation_tab(tab: str, units: int, probe: bool) -> tuple[gr.Blocks, list[ForgeUnit], tuple[Any, Any], Any]:
    """txt2img or img2img as Forge builds it (``gr.Blocks(head=canvas_head)``), with the parts a send touches."""
    from modules_forge.forge_canvas.canvas import ForgeCanvas, canvas_head

    mask = None
    with (
        gr.Blocks(analytics_enabled=False, head=canvas_head) as interface,
        gr.Tabs(elem_id=f"{tab}_extra_tabs", selected=f"{tab}_textual_inversion"),
    ):
        with gr.Tab("Generation", id=f"{tab}_generation"):
            gr.Textbox(label="Prompt", elem_id=f"{tab}_prompt")
            if tab == "img2img":
                with gr.Tabs(elem_id="mode_img2img"):
                    with gr.TabItem("img2img", id="img2img", elem_id="img2img_img2img_tab"):
                        ForgeCanvas(elem_id="img2img_image", height=512, no_scribbles=True)
                    with gr.TabItem("Inpaint upload", id="inpaint_upload", elem_id="img2img_inpaint_upload_tab"):
                        gr.Image(label="Image for img2img", sources=["upload"], type="pil", elem_id="img_inpaint_base")
                        mask = gr.Image(
                            label="Mask", sources=["upload"], type="pil", image_mode="RGBA", elem_id="img_inpaint_mask"
                        )
            width = gr.Slider(minimum=64, maximum=2048, step=8, label="Width", value=512, elem_id=f"{tab}_width")
            height = gr.Slider(minimum=64, maximum=2048, step=8, label="Height", value=512, elem_id=f"{tab}_height")
            with gr.Column(elem_id=f"{tab}_script_container"):
                found = controlnet_units(tab, units) if units else []
            if probe and found:
                _probe(found, mask)
        with gr.Tab("Textual Inversion", id=f"{tab}_textual_inversion"):
            gr.HTML("<p>extra networks</p>")
    return interface, found, (width, height), mask


def create_ui(script_callbacks: Any, shared: Any, units: int = 3, api: bool = False, probe: bool = False) -> Page:
    """What Forge's ``modules.ui.create_ui`` (and, with ``api``, the API's script setup) does, in the same order."""
    from modules_forge.forge_canvas.canvas import canvas_head

    script_callbacks.ui_settings_callback()
    page = Page(demo=None)  # type: ignore[arg-type]
    for tab in ("txt2img", "img2img"):
        interface, found, sliders, mask = generation_tab(tab, units, probe)
        page.tabs.append((interface, TAB_LABELS[tab], tab))
        page.units[tab] = found
        page.sliders[tab] = sliders
        page.inpaint_mask = mask if mask is not None else page.inpaint_mask
    with gr.Blocks(analytics_enabled=False, head=canvas_head) as spaces:
        gr.HTML("<p>Spaces</p>")
    page.tabs.append((spaces, "Spaces", "space"))
    with gr.Blocks(analytics_enabled=False):  # the Settings page: every option's component
        for key, info in shared.opts.data_labels.items():
            args = info.component_args() if callable(info.component_args) else info.component_args
            component = info.component or {str: gr.Textbox, int: gr.Number, bool: gr.Checkbox, list: gr.Dropdown}.get(
                type(info.default), gr.Textbox
            )
            value = shared.opts.data.get(key, info.default)
            if isinstance(info.default, list):  # hidden_tabs: gradio 4 wants the values among the choices
                args = {"multiselect": True, "choices": list(value), **(args or {})}
            page.settings_components[key] = component(
                label=info.label, value=value, elem_id=f"setting_{key}", **(args or {})
            )
    page.tabs += script_callbacks.ui_tabs_callback()
    shared.tab_names[:] = [label for _, label, _ in page.tabs]
    with (
        gr.Blocks(analytics_enabled=False, title="Stand-in Forge", head=canvas_head) as demo,
        gr.Tabs(elem_id="tabs"),
    ):
        for interface, label, ifid in page.tabs:
            if label in shared.opts.hidden_tabs:
                continue
            with gr.TabItem(label, id=ifid, elem_id=f"tab_{ifid}"):
                interface.render()
    if api:  # modules/api/api.py builds every script's ui() twice more per tab, in a throw-away Blocks
        with gr.Blocks():
            for tab in ("txt2img", "img2img"):
                for _ in range(2):
                    if units:
                        controlnet_units(tab, units)
    page.demo = demo
    return page


def forge_start(script_callbacks: Any, shared: Any, **kwargs: Any) -> Page:
    """One start (or Reload UI) of the page: ``before_ui`` callbacks, then ``create_ui``."""
    script_callbacks.before_ui_callback()
    return create_ui(script_callbacks, shared, **kwargs)
