"""The Forge stand-in itself: Forge's ids, component types and build order as an extension sees them through
``on_after_component``, and the extension loading into it."""

from __future__ import annotations

import re

import gradio as gr
import numpy as np
import standin_forge
from forge_helpers import Forge

UNIT = re.compile(r"^(txt2img|img2img)_controlnet_ControlNet-(\d)_(.+)$")


def _seen(forge: Forge) -> list[tuple[object, dict]]:
    seen: list[tuple[object, dict]] = []
    forge.script_callbacks.on_after_component(lambda component, **kwargs: seen.append((component, kwargs)))
    return seen


def test_units_have_forges_ids_and_types_and_the_api_builds_them_twice_more(forge: Forge) -> None:
    from gradio_rangeslider import RangeSlider
    from modules_forge.forge_canvas.canvas import LogicalImage

    seen = _seen(forge)
    page = forge.start(units=3, api=True)
    ids = [getattr(c, "elem_id", None) for c, _ in seen]
    image = "img2img_controlnet_ControlNet-1_input_image"
    assert ids.count(image) == 3
    first = next(c for c, _ in seen if getattr(c, "elem_id", None) == image)
    unit = page.units["img2img"][1]
    assert first is unit.canvas.block and isinstance(first, gr.HTML) and first._id in page.demo.blocks
    # the canvas: the HTML block, then its foreground, then its background, both with one random uuid_ id
    at = [c for c, _ in seen].index(first)
    fg, bg = seen[at + 1][0], seen[at + 2][0]
    assert isinstance(fg, LogicalImage) and isinstance(bg, LogicalImage) and isinstance(fg, gr.Textbox)
    assert fg.elem_id == bg.elem_id and re.fullmatch(r"uuid_[0-9a-f]{32}", bg.elem_id)
    assert "logical_image_foreground" in fg.elem_classes and "logical_image_background" in bg.elem_classes
    assert fg is unit.canvas.foreground and bg is unit.canvas.background and not bg.visible
    prefix = "img2img_controlnet_ControlNet-1"
    step = next(c for c, _ in seen if getattr(c, "elem_id", None) == f"{prefix}_controlnet_control_step_slider")
    assert isinstance(step, RangeSlider) and tuple(step.value) == (0.0, 1.0)
    suffixes = {UNIT.match(i)[3] for i in ids if i and UNIT.match(i) and UNIT.match(i)[1] == "img2img"}
    assert suffixes >= {
        "input_image",
        "controlnet_enable_checkbox",
        "controlnet_preprocessor_dropdown",
        "controlnet_model_dropdown",
        "controlnet_pixel_perfect_checkbox",
        "controlnet_same_img2img_checkbox",
        "controlnet_control_weight_slider",
        "controlnet_control_step_slider",
        "controlnet_control_mode_radio",
        "controlnet_resize_mode_radio",
    }
    assert "None" in unit.preprocessor.choices[0] and unit.accordion.accordion.elem_classes[-1] == "input-accordion"
    assert [label for _, label, _ in page.tabs[:3]] == ["Txt2img", "Img2img", "Spaces"]


def test_a_units_background_takes_an_array_and_gives_rgba(forge: Forge) -> None:
    page = forge.start(units=1)
    background = page.units["txt2img"][0].canvas.background
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    sent = background.postprocess(grey)
    assert sent.startswith("data:image/png;base64,")
    back = background.preprocess(sent)
    assert back.shape == (3, 4, 4) and back.dtype == np.uint8
    assert (back[:, :, 0] == grey).all() and (back[:, :, 3] == 255).all()
    assert background.preprocess("") is None and background.postprocess(None) is None


def test_the_extension_loads_with_its_tab_and_send_block(forge: Forge) -> None:
    forge.load_scripts()
    page = forge.start(units=3, api=True)
    assert forge.errors() == []
    (tab,) = (t for t in page.tabs if t[2] == "daz_depthmap")
    block = forge.extension.send_block
    assert block is not None and block.send is not None and "Forge" in block.notice()
    assert any(getattr(b, "elem_id", None) == "daz_depthmap_upload" for b in tab[0].blocks.values())


def test_hidden_forge_tabs_are_told_by_their_capitalised_labels(forge: Forge) -> None:
    forge.load_scripts()
    forge.shared.opts.data["hidden_tabs"] = ["Txt2img"]
    page = forge.start(units=1)
    assert "txt2img" not in [ifid for _, label, ifid in page.tabs if label not in forge.shared.opts.hidden_tabs]
    from daz_depthmap.webui import extension as webui

    assert "txt2img" in webui.hidden_tabs()


def test_probe_reports_each_unit(forge: Forge) -> None:
    page = forge.start(units=2, probe=True)
    assert standin_forge.describe_image(None) == {"kind": "none"}
    rgba = np.zeros((5, 7, 4), np.uint8)
    rgba[..., 3] = 255
    report = standin_forge.describe_image(rgba)
    assert report["shape"] == [5, 7, 4] and report["channels"] == 4 and report["alpha"] == [255, 255]
    assert any(getattr(b, "elem_id", None) == "img2img_standin_probe" for b in page.demo.blocks.values())
