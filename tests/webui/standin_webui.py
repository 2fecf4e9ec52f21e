"""A stand-in WebUI page: txt2img and img2img with ControlNet-like units, and the extension tabs, built the way the
WebUI 1.10.1 builds its page (``create_ui``), with the element ids and structure of sd-webui-controlnet 1.1.455.

Only what the send path touches is imitated: the ControlNet accordion (``#{tab}_controlnet #controlnet``), unit
tabs ``#{tab}_controlnet_tabs`` (none with one unit: ids without ``-0``), each unit's image inside hidden-in-img2img
panel and a "Single Image"/"Batch" tab pair, Enable, "Upload independent control image" (img2img; ticking it
clears the image and shows the panel, as ControlNet does), control type (changing it resets preprocessor and
model, as ControlNet does), preprocessor and model dropdowns; the generation width/height sliders and img2img's
inpaint upload. A probe button per tab reads the units' images back the way ControlNet receives them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np

PREPROCESSORS = ["none", "canny", "depth_midas", "depth_zoe", "normal_bae", "openpose_full", "dw_openpose_full"]
MODELS = [
    "None",
    "control_v11p_sd15_canny [d14c016b]",
    "control_v11f1p_sd15_depth [cfd03158]",
    "t2iadapter_depth_sd14v1 [fc6cd1da]",
    "control_v11p_sd15_normalbae [316696f1]",
    "control_v11p_sd15_openpose [cab727d4]",
]
NORMAL_MODEL = "control_v11p_sd15_normalbae [316696f1]"
POSE_MODEL = "control_v11p_sd15_openpose [cab727d4]"
CONTROL_MODES = ["Balanced", "My prompt is more important", "ControlNet is more important"]
DEPTH_MODEL = "control_v11f1p_sd15_depth [cfd03158]"
#: preprocessor the stand-in units start with (ControlNet starts with "none"; this lets a test see the change)
START_PREPROCESSOR = "depth_midas"


@dataclass
class StandinUnit:
    prefix: str
    image: Any
    enable: Any
    preprocessor: Any
    model: Any
    type_filter: Any
    independent: Any | None = None
    weight: Any = None
    guidance_end: Any = None
    control_mode: Any = None


@dataclass
class Page:
    demo: gr.Blocks
    units: dict[str, list[StandinUnit]] = field(default_factory=dict)
    sliders: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    inpaint_mask: Any = None
    tabs: list[tuple[Any, str, str]] = field(default_factory=list)
    settings_components: dict[str, Any] = field(default_factory=dict)


def controlnet_units(tab: str, count: int) -> list[StandinUnit]:
    """ControlNet's accordion for ``tab`` with ``count`` units (its ``ui()`` structure and ids)."""
    elem = f"{tab}_controlnet"
    units = []
    with gr.Group(elem_id=elem), gr.Accordion("ControlNet v1.1.455", open=False, elem_id="controlnet"):
        if count > 1:
            with gr.Tabs(elem_id=f"{elem}_tabs"):
                for i in range(count):
                    with gr.Tab(f"ControlNet Unit {i}", elem_classes=["cnet-unit-tab"]):
                        units.append(_unit(tab, f"{elem}_ControlNet-{i}"))
        else:
            with gr.Column():
                units.append(_unit(tab, f"{elem}_ControlNet"))
    return units


def _unit(tab: str, prefix: str) -> StandinUnit:
    is_img2img = tab == "img2img"
    with gr.Group(visible=not is_img2img) as panel, gr.Tabs():
        with (
            gr.Tab("Single Image"),
            gr.Row(elem_classes=["cnet-image-row"]),
            gr.Group(elem_classes=["cnet-input-image-group"]),
        ):
            image = gr.Image(
                source="upload",
                brush_radius=20,
                mirror_webcam=False,
                type="numpy",
                tool="sketch",
                elem_id=f"{prefix}_input_image",
                elem_classes=["cnet-image"],
            )
        with gr.Tab("Batch"):
            gr.Textbox(label="Input Directory", elem_id=f"{prefix}_batch_image_dir")
    with gr.Row():
        enable = gr.Checkbox(label="Enable", value=False, elem_id=f"{prefix}_controlnet_enable_checkbox")
        gr.Checkbox(label="Pixel Perfect", value=False, elem_id=f"{prefix}_controlnet_pixel_perfect_checkbox")
    independent = None
    if is_img2img:
        independent = gr.Checkbox(
            label="Upload independent control image",
            value=False,
            elem_id=f"{prefix}_controlnet_same_img2img_checkbox",
        )
    type_filter = gr.Radio(
        ["All", "Canny", "Depth"], value="All", label="Control Type", elem_id=f"{prefix}_controlnet_type_filter_radio"
    )
    with gr.Row():
        preprocessor = gr.Dropdown(
            PREPROCESSORS,
            value=START_PREPROCESSOR,
            label="Preprocessor",
            elem_id=f"{prefix}_controlnet_preprocessor_dropdown",
        )
        model = gr.Dropdown(MODELS, value="None", label="Model", elem_id=f"{prefix}_controlnet_model_dropdown")
    with gr.Row():
        weight = gr.Slider(0.0, 2.0, 1.0, step=0.05, label="Control Weight",
                           elem_id=f"{prefix}_controlnet_control_weight_slider")  # fmt: skip
        gr.Slider(
            0.0, 1.0, 0.0, label="Starting Control Step", elem_id=f"{prefix}_controlnet_start_control_step_slider"
        )
        guidance_end = gr.Slider(0.0, 1.0, 1.0, label="Ending Control Step",
                                 elem_id=f"{prefix}_controlnet_ending_control_step_slider")  # fmt: skip
    control_mode = gr.Radio(CONTROL_MODES, value=CONTROL_MODES[0], label="Control Mode",
                            elem_id=f"{prefix}_controlnet_control_mode_radio")  # fmt: skip
    if independent is not None:
        independent.change(
            lambda checked: (gr.update(value=None), gr.update(visible=checked)),
            inputs=[independent],
            outputs=[image, panel],
            show_progress=False,
        )
    type_filter.change(
        lambda kind: (gr.update(value="none"), gr.update(value="None")),
        inputs=[type_filter],
        outputs=[preprocessor, model],
        show_progress=False,
    )
    return StandinUnit(
        prefix, image, enable, preprocessor, model, type_filter, independent, weight, guidance_end, control_mode
    )


def describe_image(value: Any) -> dict[str, Any]:
    """What ControlNet would receive from a unit's image: the dict's kind, image shape and grey levels, mask max."""
    if value is None:
        return {"kind": "none"}
    if not isinstance(value, dict):
        return {"kind": type(value).__name__}
    image, mask = np.asarray(value["image"]), np.asarray(value["mask"])
    return {
        "kind": "dict",
        "shape": list(image.shape),
        "dtype": str(image.dtype),
        "channels_equal": bool(image.ndim == 3 and (image == image[:, :, :1]).all()),
        "min": int(image.min()),
        "max": int(image.max()),
        "mask_shape": list(mask.shape),
        "mask_max": int(mask.max()) if mask.size else 0,
    }


#: Regional Prompter numbers its accordions with a class counter in build order (txt2img, img2img, the API's copy).
RP_ACCORDION_FIRST = 2244100


def rp_colours(count: int) -> list[tuple[int, int, int]]:
    """Regional Prompter's region colours 0..count-1 (hue 0, 1/2, 1/4, 3/4, 1/8...; S = V = 0.5; x256 truncated),
    computed here from its documented rule, independently of the extension's code."""
    import colorsys
    import math

    colours = []
    for i in range(count):
        hue = (
            0.0 if i == 0 else (2 * (i - 2 ** (math.ceil(math.log2(i + 1)) - 1)) + 1) / 2 ** math.ceil(math.log2(i + 1))
        )
        colours.append(tuple(int(v * 256) for v in colorsys.hsv_to_rgb(hue, 0.5, 0.5)))
    return colours


@dataclass
class StandinRegionalPrompter:
    active: Any
    modes: Any
    mode: Any
    canvas: Any
    use_base: Any


def regional_prompter(
    tab: str, number: int, old_active: bool = False, modes_id: str | None = None
) -> StandinRegionalPrompter:
    """Regional Prompter's ui() for ``tab`` as far as Mask mode goes (its ids, component types and build order):
    the accordion with its hidden Active box (``old_active``: its setting "Use old active check box", an "Active"
    checkbox ``RP_active{t2i,i2i}``), the mode tabs whose select sets the mode (``modes_id``: another id, as an
    unknown version might have), the sketch canvas."""
    eladd = "t2i" if tab == "txt2img" else "i2i"
    accordion = f"input-accordion-m-{number}"
    with gr.Accordion("Regional Prompter", open=False, elem_id=accordion, elem_classes=["input-accordion-m"]):
        if old_active:
            active = gr.Checkbox(False, label="Active", elem_id=f"RP_active{eladd}")
        else:
            active = gr.Checkbox(False, label="Regional Prompter", visible=False, elem_id=f"{accordion}-checkbox")
        use_base = gr.Checkbox(False, label="Use base prompt", elem_id=f"RP_usebase{eladd}")
        mode = gr.State("Matrix")
        with gr.Tabs(elem_id=modes_id or f"RP_mode{eladd}") as modes:
            with gr.TabItem("Matrix", id="tMatrix", elem_id="RP_Matrix") as matrix:
                gr.Textbox("1,1", label="Divide Ratio", elem_id=f"RP_divide_ratio{eladd}")
            with gr.TabItem("Mask", id="tMask", elem_id="RP_Mask") as mask:
                gr.Radio(["Mask"], value="Mask", label="Mask mode", elem_id=f"RP_mask_mode{eladd}")
                canvas = gr.Image(
                    source="upload", type="numpy", tool="sketch", image_mode="RGB", elem_id=f"polymask{eladd}"
                )
            with gr.TabItem("Prompt", id="tPrompt", elem_id="RP_Prompt") as prompt:
                gr.Textbox("0.4", label="threshold", elem_id=f"RP_threshold{eladd}")
        for item, name in ((matrix, "Matrix"), (mask, "Mask"), (prompt, "Prompt")):
            item.select(lambda name=name: name, inputs=None, outputs=[mode])
    return StandinRegionalPrompter(active, modes, mode, canvas, use_base)


def describe_regions(active: bool, mode: str, value: Any) -> dict[str, Any]:
    """What Regional Prompter's process() would use: Active, the selected mode, the canvas image's size and the
    region colours found in it exactly (by rank: the k-th present colour is the k-th region prompt)."""
    report: dict[str, Any] = {"active": bool(active), "mode": mode}
    image = value.get("image") if isinstance(value, dict) else value
    if image is None:
        return {**report, "image": None}
    image = np.asarray(image)[..., :3]
    table = rp_colours(64)
    found = {}
    colours, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
    for colour, count in zip(colours, counts, strict=True):
        key = tuple(int(v) for v in colour)
        if key in table:
            found[table.index(key)] = int(count)
    unrecognised = int(image.shape[0] * image.shape[1] - sum(found.values()))
    return {**report, "image": list(image.shape), "regions": found, "no_region": unrecognised}


def generation_tab(
    tab: str, units: int, probe: bool, rp: bool = False
) -> tuple[gr.Blocks, list[StandinUnit], tuple[Any, Any], Any]:
    """txt2img or img2img: a "Generation" sub-tab (not the selected one) holding size sliders and ControlNet."""
    mask = None
    with (
        gr.Blocks(analytics_enabled=False) as interface,
        gr.Tabs(elem_id=f"{tab}_extra_tabs", selected=f"{tab}_textual_inversion"),
    ):
        with gr.Tab("Generation", id=f"{tab}_generation"):
            gr.Textbox(label="Prompt", elem_id=f"{tab}_prompt")
            if tab == "img2img":
                with gr.Tabs(elem_id="mode_img2img"):
                    with gr.TabItem("img2img", id="img2img", elem_id="img2img_img2img_tab"):
                        gr.Image(label="Image for img2img", source="upload", type="pil", elem_id="img2img_image")
                    with gr.TabItem("Inpaint upload", id="inpaint_upload", elem_id="img2img_inpaint_upload_tab"):
                        gr.Image(label="Image for img2img", source="upload", type="pil", elem_id="img_inpaint_base")
                        mask = gr.Image(
                            label="Mask", source="upload", type="pil", image_mode="RGBA", elem_id="img_inpaint_mask"
                        )
            width = gr.Slider(minimum=64, maximum=2048, step=8, label="Width", value=512, elem_id=f"{tab}_width")
            height = gr.Slider(minimum=64, maximum=2048, step=8, label="Height", value=512, elem_id=f"{tab}_height")
            with gr.Column(elem_id=f"{tab}_script_container"):
                found = controlnet_units(tab, units) if units else []
                prompter = regional_prompter(tab, RP_ACCORDION_FIRST + (tab == "img2img")) if rp else None
            if probe:
                button = gr.Button("Probe", elem_id=f"{tab}_standin_probe")
                out = gr.Textbox(label="Probe", elem_id=f"{tab}_standin_probe_out")
                images = [u.image for u in found]
                readers = [*images] + ([mask] if mask is not None else [])

                def read(*values: Any) -> str:
                    report = {u.prefix: describe_image(v) for u, v in zip(found, values[: len(found)], strict=True)}
                    if mask is not None:
                        last = values[-1]
                        report["inpaint_mask"] = None if last is None else list(np.asarray(last).shape)
                    return json.dumps(report)

                button.click(read, inputs=readers, outputs=[out])
                if prompter is not None:
                    rp_button = gr.Button("Probe Regional Prompter", elem_id=f"{tab}_standin_rp_probe")
                    rp_out = gr.Textbox(label="Regional Prompter probe", elem_id=f"{tab}_standin_rp_probe_out")
                    rp_button.click(
                        lambda *v: json.dumps(describe_regions(*v)),
                        inputs=[prompter.active, prompter.mode, prompter.canvas],
                        outputs=[rp_out],
                    )
        with gr.Tab("Textual Inversion", id=f"{tab}_textual_inversion"):
            gr.HTML("<p>extra networks</p>")
    return interface, found, (width, height), mask


def filler_tab(units: int) -> None:
    """A hidden tab of ``units`` rows of WebUI-like inputs (10 blocks and 2 events each): a WebUI 1.10.1 page has
    about 2000 blocks (``units=200``), and gradio 3's page does work per block on every update it receives."""
    noop = lambda *values: None  # noqa: E731
    with gr.TabItem("Extras", id="extras", elem_id="tab_extras"):
        for i in range(units):
            with gr.Row():
                steps = gr.Slider(1, 150, value=20, step=1, label=f"Steps {i}")
                seed = gr.Number(value=i, label=f"Seed {i}")
                check = gr.Checkbox(label=f"Option {i}", value=bool(i % 2))
                sampler = gr.Dropdown(["Euler a", "DPM++ 2M", "DDIM"], value="Euler a", label=f"Sampler {i}")
                text = gr.Textbox(label=f"Prompt {i}", lines=2)
                button = gr.Button(f"Apply {i}")
            with gr.Column():
                html = gr.HTML(f"<p>Info {i}</p>")
                gr.Radio(["Latent", "None"], value="Latent", label=f"Upscaler {i}")
            button.click(noop, [text, steps, seed], [html])
            check.change(noop, [check, sampler], [text])


def create_ui(
    script_callbacks: Any,
    shared: Any,
    units: int = 3,
    api: bool = False,
    probe: bool = False,
    rp: bool = False,
    filler: int = 0,
) -> Page:
    """What ``modules.ui.create_ui`` (and, with ``api``, the API's script setup) does, in the same order; ``rp``
    adds Regional Prompter to both generation tabs, ``filler`` a tab that makes the page as big as the WebUI's."""
    script_callbacks.ui_settings_callback()
    page = Page(demo=None)  # type: ignore[arg-type]
    for tab in ("txt2img", "img2img"):
        interface, found, sliders, mask = generation_tab(tab, units, probe, rp)
        page.tabs.append((interface, tab, tab))
        page.units[tab] = found
        page.sliders[tab] = sliders
        page.inpaint_mask = mask if mask is not None else page.inpaint_mask
    with gr.Blocks(analytics_enabled=False):  # the Settings page: every option's component
        for key, info in shared.opts.data_labels.items():
            args = info.component_args() if callable(info.component_args) else info.component_args
            component = info.component or {str: gr.Textbox, int: gr.Number, bool: gr.Checkbox, list: gr.Dropdown}.get(
                type(info.default), gr.Textbox
            )
            page.settings_components[key] = component(
                label=info.label,
                value=shared.opts.data.get(key, info.default),
                elem_id=f"setting_{key}",
                **(args or {}),
            )
    page.tabs += script_callbacks.ui_tabs_callback()
    shared.tab_names[:] = [label for _, label, _ in page.tabs]
    with gr.Blocks(analytics_enabled=False, title="Stand-in WebUI") as demo, gr.Tabs(elem_id="tabs"):
        for interface, label, ifid in page.tabs:
            if label in shared.opts.hidden_tabs:
                continue
            with gr.TabItem(label, id=ifid, elem_id=f"tab_{ifid}"):
                interface.render()
        if filler:
            filler_tab(filler)
    if api:  # modules/api/api.py builds every script's ui() again in a throwaway Blocks
        with gr.Blocks():
            for tab in ("txt2img", "img2img"):
                if units:
                    controlnet_units(tab, units)
            if rp:  # Regional Prompter's txt2img UI once more, its accordion numbered after the page's two
                regional_prompter("txt2img", RP_ACCORDION_FIRST + 2)
    page.demo = demo
    return page


def webui_start(script_callbacks: Any, shared: Any, **kwargs: Any) -> Page:
    """One start (or Reload UI) of the page: ``before_ui`` callbacks, then ``create_ui``."""
    script_callbacks.before_ui_callback()
    return create_ui(script_callbacks, shared, **kwargs)
