"""The plain pieces of the send: the image ControlNet gets, the generation size, the model choice, the index of
components, and the output folder a setting names."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from webui_helpers import WebUI

from daz_depthmap.depth.mapping import to_8bit
from daz_depthmap.webui.controlnet.a1111 import KEEP_MODEL, SdWebuiControlNet, depth_only, pick_model
from daz_depthmap.webui.controls import GenerationControls, fit_size
from daz_depthmap.webui.targets import ComponentIndex


def test_8_bit_levels_of_a_16_bit_map_are_rounded_half_up() -> None:
    depth16 = np.array([[0, 128, 129, 257 * 100, 65535, 32767 * 257 // 255 + 1]], np.uint16)
    levels = to_8bit(depth16)
    assert levels.dtype == np.uint8
    expected = np.floor(depth16.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)
    assert levels.tolist() == expected.tolist() and levels[0, :5].tolist() == [0, 0, 1, 100, 255]
    depth8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert to_8bit(depth8) is depth8


@given(
    st.integers(1, 8192),
    st.integers(1, 8192),
    st.integers(64, 2048),
    st.integers(64, 2048),
)
def test_fit_size_gives_multiples_of_8_within_the_sliders(map_w: int, map_h: int, width: int, height: int) -> None:
    w, h = fit_size(map_w, map_h, width, height)
    assert w % 8 == 0 and h % 8 == 0
    assert 64 <= w <= 2048 and 64 <= h <= 2048
    exact_w, exact_h = (width * height * map_w / map_h) ** 0.5, (width * height * map_h / map_w) ** 0.5
    if min(exact_w, exact_h) >= 64 and max(exact_w, exact_h) <= 2048:  # no limit in the way: only rounding to 8
        assert abs(w - exact_w) <= 4 and abs(h - exact_h) <= 4


def test_fit_size_keeps_the_area_of_the_current_size() -> None:
    assert fit_size(1920, 1080, 1024, 1024) == (1368, 768)
    assert fit_size(1000, 1000, 768, 512) == (624, 624)
    assert fit_size(100, 4000, 512, 512) == (64, 2048)  # too thin for the sliders: limits win


def test_pick_model_prefers_the_exact_name_then_the_same_model_with_another_hash() -> None:
    models = ["control_v11f1p_sd15_depth [cfd03158]", "t2iadapter_depth_sd14v1 [fc6cd1da]"]
    assert pick_model("t2iadapter_depth_sd14v1 [fc6cd1da]", models) == "t2iadapter_depth_sd14v1 [fc6cd1da]"
    assert pick_model("control_v11f1p_sd15_depth [11111111]", models) == "control_v11f1p_sd15_depth [cfd03158]"
    assert pick_model("gone_depth [22222222]", models) == KEEP_MODEL
    assert pick_model(KEEP_MODEL, models) == KEEP_MODEL


def test_depth_only_keeps_depth_models_once() -> None:
    names = ["None", "control_v11p_sd15_canny [a]", "Depth_Anything [b]", "x_depth [c]", "x_depth [c]", 3]
    assert depth_only(names) == ["Depth_Anything [b]", "x_depth [c]"]


def test_the_index_keeps_the_first_component_of_an_id_and_only_ids_it_needs() -> None:
    index = ComponentIndex([SdWebuiControlNet.WANTED, GenerationControls.WANTED])
    with gr.Blocks():
        first = gr.Image(elem_id="img2img_controlnet_ControlNet-0_input_image")
        again = gr.Image(elem_id="img2img_controlnet_ControlNet-0_input_image")
        width = gr.Slider(elem_id="txt2img_width")
        other = gr.Textbox(elem_id="txt2img_negative_prompt")
        mask = gr.Image(elem_id="img_inpaint_mask")
    for component in (first, again, width, other, mask, object()):
        index.add(component)
    assert index.ids() == ["img2img_controlnet_ControlNet-0_input_image", "txt2img_width", "img_inpaint_mask"]
    assert index.get("img2img_controlnet_ControlNet-0_input_image") is first
    index.clear()
    assert index.ids() == []


def test_the_output_folder_setting_resolves_inside_the_data_folder(webui: WebUI, tmp_path: Path) -> None:
    from daz_depthmap.webui.extension import resolve_output_dir

    data, default = tmp_path / "data", tmp_path / "data" / "outputs" / "daz_depthmap"
    assert resolve_output_dir("", data, default) == default
    assert resolve_output_dir("  ", data, default) == default
    assert resolve_output_dir(None, data, default) == default
    assert resolve_output_dir("maps", data, default) == data / "maps"
    assert resolve_output_dir("maps/../depth", data, default) == data / "depth"
    assert resolve_output_dir(str(tmp_path / "abs"), data, default) == tmp_path / "abs"
