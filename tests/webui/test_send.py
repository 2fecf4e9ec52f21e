"""Send to ControlNet through gradio's own event processing (preprocess, handler, postprocess), step by step, on
the stand-in page: the right values reach the right unit, and every failure ends in a message."""

from __future__ import annotations

import base64
import json
import sys
import types
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pytest
import standin_webui
from webui_helpers import WebUI, decode_image, event_index, follow_ups, is_unchanged, run_event

from daz_depthmap.context import FullMaps, TabContext, TabHandles
from daz_depthmap.params import DepthParams

DEPTH_MODEL = standin_webui.DEPTH_MODEL


def _minimal_build_tab(ctx: TabContext) -> gr.Blocks:
    """A tab with only what the send block needs: the session holds FullMaps directly."""

    def full_maps(session: Any) -> FullMaps:
        if session == "crash":
            raise RuntimeError("disk_on_fire")
        if not isinstance(session, FullMaps):
            raise ValueError("no file loaded: drop one or more depth .exr files above first")
        return session

    with gr.Blocks() as blocks:
        session = gr.State(None)
        status = gr.Markdown("")
        assert ctx.add_controls is not None
        ctx.add_controls(TabHandles(session, status, full_maps))
    return blocks


@pytest.fixture
def minimal_tab(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("daz_depthmap.ui")
    module.build_tab = _minimal_build_tab
    monkeypatch.setitem(sys.modules, "daz_depthmap.ui", module)


def _maps(bits: int = 16, height: int = 90, width: int = 120) -> FullMaps:
    rng = np.random.default_rng(1)
    depth = rng.integers(0, 1 << bits, (height, width), dtype=np.uint16 if bits == 16 else np.uint8)
    mask = np.where(depth > depth.max() // 4, 255, 0).astype(np.uint8)
    return FullMaps("scene", depth, mask, DepthParams(bits=bits))


class Send:
    """The three steps of one send on a page, with the page script's part played by the test."""

    def __init__(self, page: standin_webui.Page, block: Any, session: Any) -> None:
        self.page, self.block = page, block
        self.steps = follow_ups(page.demo, event_index(page.demo, block.send, "click"))
        self.state: dict[int, Any] = {block.handles.session._id: session}

    def prepare(self, target: str, unit: str, mask: bool = False) -> dict[Any, Any]:
        b = self.block
        return run_event(self.page.demo, self.steps[0], {b.target: target, b.unit: unit, b.send_mask: mask}, self.state)

    def image(self, plan: str, report: str = '{"ok": true}') -> dict[Any, Any]:
        return run_event(self.page.demo, self.steps[1], {self.block.plan: plan, self.block.report: report}, self.state)

    def settings(self, plan: str, model: str = "Keep the unit's model", size: bool = False) -> dict[Any, Any]:
        b = self.block
        values = {b.plan: plan, b.model: model, b.follow_size: size}
        return run_event(self.page.demo, self.steps[2], values, self.state)

    def all(self, target: str, unit: str, report: str = '{"ok": true}', **kwargs: Any) -> list[dict[Any, Any]]:
        first = self.prepare(target, unit, kwargs.pop("mask", False))
        plan = first.get(self.block.plan, "")
        second = self.image(plan, report)
        return [first, second, self.settings(second.get(self.block.plan, plan), **kwargs)]


def _page(webui: WebUI, **kwargs: Any) -> tuple[standin_webui.Page, Any]:
    webui.load_scripts()
    page = webui.start(**kwargs)
    return page, webui.extension.send_block


def test_sending_to_img2img_unit_1_fills_that_unit_only(webui: WebUI, minimal_tab: None) -> None:
    page, block = _page(webui)
    maps = _maps(bits=16)
    send = Send(page, block, maps)

    first = send.prepare("img2img", "Unit 1", mask=True)
    plan = json.loads(first[block.plan])
    assert plan == {
        "show": ["img_inpaint_mask", "img2img_controlnet_ControlNet-1_input_image"],
        "tick": "img2img_controlnet_ControlNet-1_controlnet_same_img2img_checkbox",
        "wait": "img2img_controlnet_ControlNet-1_input_image",
        "enable": "img2img_controlnet_ControlNet-1_controlnet_enable_checkbox",
    }
    assert "img2img › ControlNet Unit 1" in first[block.status]

    second = send.image(first[block.plan])
    target = page.units["img2img"][1]
    image = decode_image(second[target.image])
    assert image.shape == (90, 120, 3)
    expected = np.round(maps.depth.astype(np.float64) * 255 / 65535).astype(np.uint8)
    assert np.array_equal(image, np.repeat(expected[:, :, None], 3, axis=2))
    others = [u.image for units in page.units.values() for u in units if u is not target]
    assert all(is_unchanged(second[c]) for c in others)
    assert np.array_equal(decode_image(second[page.inpaint_mask]), maps.mask)
    # the enable/preprocessor/model values wait for the next step (the image must settle first)
    assert target.enable not in second and target.preprocessor not in second

    third = send.settings(second[block.plan], model=DEPTH_MODEL, size=True)
    assert third[target.enable] is True
    assert third[target.preprocessor] == "none"
    assert third[target.model] == DEPTH_MODEL
    assert target.type_filter not in third  # touching it would reset preprocessor and model
    width, height = page.sliders["img2img"]
    assert (third[width], third[height]) == (592, 440)  # 4:3 at about the current 512 x 512 area
    assert all(is_unchanged(third[c]) for c in page.sliders["txt2img"])
    for unit in page.units["txt2img"] + page.units["img2img"][:1] + page.units["img2img"][2:]:
        assert is_unchanged(third[unit.enable]) and is_unchanged(third[unit.model])
    status = third[block.status]
    for part in (
        "Sent `scene` (120 × 90) to **img2img › ControlNet Unit 1**",
        "Enable",
        "preprocessor none",
        f"model `{DEPTH_MODEL}`",
        "16-bit map went as 8-bit",
        "Mask → img2img › Inpaint upload",
        "Width × height of img2img → 592 × 440",
    ):
        assert part in status
    assert third[block.plan] == "" and send.state[block.pending._id] is None
    assert webui.errors() == []


def test_sending_to_txt2img_needs_no_tick_and_ignores_the_mask_option(webui: WebUI, minimal_tab: None) -> None:
    page, block = _page(webui)
    send = Send(page, block, _maps(bits=8))
    first, second, third = send.all("txt2img", "Unit 2", mask=True)
    plan = json.loads(first[block.plan])
    assert plan["tick"] is None and plan["show"] == ["txt2img_controlnet_ControlNet-2_input_image"]
    target = page.units["txt2img"][2]
    assert np.array_equal(decode_image(second[target.image])[:, :, 0], send.state[block.handles.session._id].depth)
    assert is_unchanged(second[page.inpaint_mask])
    assert third[target.enable] is True
    assert is_unchanged(third[target.model])  # "keep the unit's model"
    assert "8-bit" not in third[block.status] and "Mask" not in third[block.status]


def test_the_single_unit_layout_receives_the_map(webui: WebUI, minimal_tab: None) -> None:
    page, block = _page(webui, units=1)
    send = Send(page, block, _maps(bits=8, height=64, width=64))
    first, second, third = send.all("img2img", "Unit 0")
    unit = page.units["img2img"][0]
    assert json.loads(first[block.plan])["wait"] == "img2img_controlnet_ControlNet_input_image"
    assert decode_image(second[unit.image]).shape == (64, 64, 3)
    assert third[unit.enable] is True


def test_nothing_loaded_sends_nothing_and_says_so(webui: WebUI, minimal_tab: None) -> None:
    page, block = _page(webui)
    send = Send(page, block, None)
    first, second, third = send.all("img2img", "Unit 0")
    assert first[block.plan] == ""
    assert first[block.status] == "Nothing sent: no file loaded: drop one or more depth .exr files above first"
    assert all(is_unchanged(v) for c, v in second.items() if c is not block.plan and c is not block.pending)
    assert is_unchanged(second[block.status]) and is_unchanged(third[block.status])  # the message stays
    assert all(is_unchanged(third[u.enable]) for units in page.units.values() for u in units)


def test_a_page_without_the_script_gets_a_message_not_a_blank_unit(webui: WebUI, minimal_tab: None) -> None:
    page, block = _page(webui)
    send = Send(page, block, _maps())
    first, second, third = send.all("img2img", "Unit 1", report="")
    assert "page script that opens the ControlNet unit did not run" in second[block.status]
    assert all(is_unchanged(second[u.image]) for units in page.units.values() for u in units)
    assert second[block.plan] == "" and is_unchanged(third[block.status])
    assert all(is_unchanged(third[u.enable]) for units in page.units.values() for u in units)


def test_the_page_scripts_error_is_shown(webui: WebUI, minimal_tab: None) -> None:
    page, block = _page(webui)
    report = json.dumps({"ok": False, "error": "ControlNet's image #x did not appear"})
    _, second, _ = Send(page, block, _maps()).all("img2img", "Unit 1", report=report)
    assert second[block.status] == "Nothing sent: ControlNet's image \\#x did not appear."  # Markdown-escaped


def test_an_unexpected_failure_ends_the_send_with_a_message(webui: WebUI, minimal_tab: None) -> None:
    page, block = _page(webui)
    first, second, third = Send(page, block, "crash").all("img2img", "Unit 1")
    assert first[block.status] == "Nothing sent: unexpected error (RuntimeError: disk\\_on\\_fire)."
    assert first[block.plan] == "" and is_unchanged(second[block.status]) and is_unchanged(third[block.status])
    assert webui.errors() == []


def test_the_setting_can_leave_preprocessor_and_model_alone(webui: WebUI, minimal_tab: None) -> None:
    page, block = _page(webui)
    webui.shared.opts.set("daz_depthmap_send_sets_model", False)  # read at send time: no Reload UI needed
    *_, third = Send(page, block, _maps()).all("img2img", "Unit 0", model=DEPTH_MODEL)
    unit = page.units["img2img"][0]
    assert third[unit.enable] is True
    assert is_unchanged(third[unit.preprocessor]) and is_unchanged(third[unit.model])
    assert "Preprocessor and model left as they were" in third[block.status]


def test_a_model_that_left_controlnets_list_is_not_set(
    webui: WebUI, minimal_tab: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    page, block = _page(webui)
    external = types.ModuleType("internal_controlnet.external_code")
    external.get_models = lambda update=False: ["control_v11p_sd15_canny [d14c016b]"]  # the depth model was removed
    monkeypatch.setitem(sys.modules, "internal_controlnet.external_code", external)
    *_, third = Send(page, block, _maps()).all("img2img", "Unit 0", model=DEPTH_MODEL)
    unit = page.units["img2img"][0]
    assert is_unchanged(third[unit.model]) and third[unit.preprocessor] == "none"
    assert f"Model `{DEPTH_MODEL}` not set: it is not in ControlNet's model list any more" in third[block.status]


def test_choosing_a_target_lists_its_units_and_the_mask_option(webui: WebUI, minimal_tab: None) -> None:
    page, _ = _page(webui, units=2)
    block = webui.extension.send_block
    out = run_event(page.demo, event_index(page.demo, block.target, "change"), {block.target: "txt2img"}, {})
    assert out[block.unit]["choices"] == ["Unit 0", "Unit 1"] and out[block.unit]["value"] == "Unit 0"
    assert out[block.send_mask]["visible"] is False
    out = run_event(page.demo, event_index(page.demo, block.target, "change"), {block.target: "img2img"}, {})
    assert out[block.send_mask]["visible"] is True


def test_with_the_real_tab_an_empty_session_gets_the_tabs_message(webui: WebUI) -> None:
    page, block = _page(webui)
    first = Send(page, block, None).prepare("txt2img", "Unit 0")
    assert first[block.status].startswith("Nothing sent: no file loaded")


def test_with_the_real_tab_uploaded_names_cannot_leave_the_output_folder(webui: WebUI, daz_exr: Path) -> None:
    page, block = _page(webui)
    tab = next(interface for interface, _, ifid in page.tabs if ifid == "daz_depthmap")
    by_id = {getattr(c, "elem_id", None): c for c in tab.blocks.values()}
    upload, save = by_id["daz_depthmap_upload"], by_id["daz_depthmap_save"]
    state: dict[int, Any] = {}
    data = "data:application/octet-stream;base64," + base64.b64encode(daz_exr.read_bytes()).decode()
    payload = [{"name": "..\\..\\..\\evil.exr", "data": data, "is_file": False}]
    run_event(page.demo, event_index(page.demo, upload, "upload"), {upload: payload}, state)
    run_event(page.demo, event_index(page.demo, save, "click"), {}, state)
    out_dir = webui.data_dir / "outputs" / "daz_depthmap"
    written = sorted(p for p in webui.data_dir.rglob("*") if p.is_file())
    assert written and all(out_dir in p.parents for p in written)
    # and the saved map is the one Send to ControlNet sends
    first, second, _ = Send(page, block, state[block.handles.session._id]).all("txt2img", "Unit 0")
    assert decode_image(second[page.units["txt2img"][0].image]).shape[:2] == (240, 192)
