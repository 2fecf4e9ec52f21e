"""Send to ControlNet through gradio's own event processing (preprocess, handler, postprocess), step by step, on
the stand-in page with the real tab: the right values reach the right target, every failure ends in a message, and
a send's images do not outlive it."""

from __future__ import annotations

import base64
import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import standin_webui
from webui_helpers import WebUI, decode_image, event_index, follow_ups, is_unchanged, run_event

from daz_depthmap.session.batch import full_maps
from daz_depthmap.session.loaded import LoadedFile
from daz_depthmap.webui.send.depth import PENDING_SECONDS, PendingSend
from tests.synthetic import daz_like_depth, write_depth_exr

DEPTH_MODEL = standin_webui.DEPTH_MODEL
OK = '{"ok": true}'


class Send:
    """The steps of one send on a page, with the page script's part played by the test."""

    def __init__(self, page: standin_webui.Page, block: Any, token: str | None) -> None:
        self.page, self.block = page, block
        self.steps = follow_ups(page.demo, event_index(page.demo, block.send, "click"))
        assert len(self.steps) == 1 + 2 * block.max_pairs
        self.state: dict[int, Any] = {block.handles.session._id: token}

    @property
    def session(self) -> Any:
        return self.block.handles.sessions.get(self.state[self.block.handles.session._id])

    def prepare(self, tab: str, unit: str, mask: bool = False) -> dict[Any, Any]:
        b = self.block
        return run_event(self.page.demo, self.steps[0], {b.tab: tab, b.unit: unit, b.send_mask: mask}, self.state)

    def deliver(self, slot: int, plan: str, report: str = OK) -> dict[Any, Any]:
        values = {self.block.plan: plan, self.block.report: report}
        return run_event(self.page.demo, self.steps[1 + 2 * slot], values, self.state)

    def configure(
        self, slot: int, plan: str, report: str = OK, model: str = "Keep the unit's model", size: bool = False
    ) -> dict[Any, Any]:
        b = self.block
        values = {b.plan: plan, b.report: report, b.model: model, b.follow_size: size}
        return run_event(self.page.demo, self.steps[2 + 2 * slot], values, self.state)

    def all(self, tab: str, unit: str, report: str = OK, **kwargs: Any) -> list[dict[Any, Any]]:
        """Every step in order, as the page runs them; returns their outputs."""
        mask = kwargs.pop("mask", False)
        settle = kwargs.pop("settle", OK)
        outputs = [self.prepare(tab, unit, mask)]
        plan = outputs[0].get(self.block.plan, "")
        for slot in range(self.block.max_pairs):
            outputs.append(self.deliver(slot, plan, report))
            outputs.append(self.configure(slot, plan, settle, **kwargs))
        return outputs


def _page(webui: WebUI, **kwargs: Any) -> tuple[standin_webui.Page, Any]:
    webui.load_scripts()
    page = webui.start(**kwargs)
    return page, webui.extension.send_block


def _loaded(block: Any, path: Path, **options: Any) -> str:
    """A session with ``path`` loaded (and options set); returns its token."""
    session = block.handles.sessions.open(None).session
    assert session.workspace.load([path]).loaded
    if options:
        session.workspace.update(**options)
    return session.token


@pytest.fixture
def small_exr(tmp_path: Path) -> Path:
    path = tmp_path / "scene.exr"
    write_depth_exr(path, daz_like_depth(90, 120, seed=5))
    return path


def _expected(block: Any, token: str) -> Any:
    return full_maps(block.handles.sessions.get(token).workspace.require_shown())


def test_sending_to_img2img_unit_1_fills_that_unit_only(webui: WebUI, small_exr: Path) -> None:
    page, block = _page(webui)
    token = _loaded(block, small_exr, bits=16, depth_cutoff=300.0)
    maps = _expected(block, token)
    send = Send(page, block, token)

    first = send.prepare("img2img", "Unit 1", mask=True)
    plan = json.loads(first[block.plan])
    unit_id = "img2img_controlnet_ControlNet-1"
    assert plan["steps"] == [
        {"show": ["img_inpaint_mask"], "tick": None, "wait": None, "enable": None, "sketch": False, "size": [120, 90]},
        {
            "show": [f"{unit_id}_input_image"],
            "tick": f"{unit_id}_controlnet_same_img2img_checkbox",
            "wait": f"{unit_id}_input_image",
            "enable": f"{unit_id}_controlnet_enable_checkbox",
            "sketch": True,
            "size": [120, 90],
        },
    ]
    assert "img2img › ControlNet Unit 1" in first[block.status]
    pending = send.session.pending
    assert isinstance(pending, PendingSend) and pending.images["depth"].dtype == np.uint8  # grey, 8-bit, kept once

    mask_step = send.deliver(0, first[block.plan])
    assert np.array_equal(decode_image(mask_step[page.inpaint_mask]), maps.mask)
    assert all(is_unchanged(mask_step[u.image]) for units in page.units.values() for u in units)
    assert is_unchanged(send.configure(0, first[block.plan])[block.status])

    target = page.units["img2img"][1]
    image_step = send.deliver(1, first[block.plan])
    image = decode_image(image_step[target.image])
    assert image.shape == (90, 120, 3)
    expected = np.floor(maps.depth.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)
    assert np.array_equal(image, np.repeat(expected[:, :, None], 3, axis=2))
    others = [u.image for units in page.units.values() for u in units if u is not target]
    assert all(is_unchanged(image_step[c]) for c in others)
    # the enable/preprocessor/model values wait for the next step (the image must settle first)
    assert is_unchanged(image_step[target.enable]) and is_unchanged(image_step[target.preprocessor])

    last = send.configure(1, first[block.plan], model=DEPTH_MODEL, size=True)
    assert last[target.enable] is True
    assert last[target.preprocessor] == "none"
    assert last[target.model] == DEPTH_MODEL
    assert target.type_filter not in last  # touching it would reset preprocessor and model
    width, height = page.sliders["img2img"]
    assert (last[width], last[height]) == (592, 440)  # 4:3 at about the current 512 x 512 area
    assert all(is_unchanged(last[c]) for c in page.sliders["txt2img"])
    for unit in page.units["txt2img"] + page.units["img2img"][:1] + page.units["img2img"][2:]:
        assert is_unchanged(last[unit.enable]) and is_unchanged(last[unit.model])
    status = last[block.status]
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
    assert last[block.plan] == "" and send.session.pending is None  # the images are freed
    assert block.max_pairs == 2  # a depth map's send: the mask and the map
    assert webui.errors() == []


def test_an_interrupted_send_does_not_keep_its_images(webui: WebUI, small_exr: Path) -> None:
    """A send stopped after its first step (page closed, script missing) used to keep its full-size RGB image in
    the session for as long as the server ran."""
    page, block = _page(webui)
    sessions = block.handles.sessions
    now = [1000.0]
    sessions.clock = lambda: now[0]
    send = Send(page, block, _loaded(block, small_exr))
    send.prepare("txt2img", "Unit 0")
    kept = send.session.nbytes
    assert send.session.pending is not None and send.session.pending.nbytes > 0
    now[0] += PENDING_SECONDS + 1  # nothing else happens: no further step ever comes
    sessions.sweep()
    assert send.session.pending is None
    assert send.session.nbytes < kept


def test_sending_to_txt2img_needs_no_tick_and_ignores_the_mask_option(webui: WebUI, small_exr: Path) -> None:
    page, block = _page(webui)
    token = _loaded(block, small_exr)
    send = Send(page, block, token)
    outputs = send.all("txt2img", "Unit 2", mask=True)
    plan = json.loads(outputs[0][block.plan])
    assert len(plan["steps"]) == 1 and plan["steps"][0]["tick"] is None
    assert plan["steps"][0]["show"] == ["txt2img_controlnet_ControlNet-2_input_image"]
    target = page.units["txt2img"][2]
    assert np.array_equal(decode_image(outputs[1][target.image])[:, :, 0], _expected(block, token).depth)
    assert is_unchanged(outputs[1][page.inpaint_mask])
    last = outputs[2]
    assert last[target.enable] is True
    assert is_unchanged(last[target.model])  # "keep the unit's model"
    assert "8-bit" not in last[block.status] and "Mask" not in last[block.status]


def test_the_single_unit_layout_receives_the_map(webui: WebUI, tmp_path: Path) -> None:
    page, block = _page(webui, units=1)
    path = tmp_path / "square.exr"
    write_depth_exr(path, daz_like_depth(64, 64))
    outputs = Send(page, block, _loaded(block, path)).all("img2img", "Unit 0")
    unit = page.units["img2img"][0]
    assert json.loads(outputs[0][block.plan])["steps"][0]["wait"] == "img2img_controlnet_ControlNet_input_image"
    assert decode_image(outputs[1][unit.image]).shape == (64, 64, 3)
    assert outputs[2][unit.enable] is True


def test_nothing_loaded_sends_nothing_and_says_so(webui: WebUI) -> None:
    page, block = _page(webui)
    outputs = Send(page, block, None).all("img2img", "Unit 0")
    assert outputs[0][block.plan] == ""
    assert outputs[0][block.status] == "Nothing sent: no file loaded: drop one or more depth .exr files above first"
    for later in outputs[1:]:
        assert is_unchanged(later[block.status])  # the message stays
        assert all(is_unchanged(later[u.image]) for units in page.units.values() for u in units)


def test_a_page_without_the_script_gets_a_message_not_a_blank_unit(webui: WebUI, small_exr: Path) -> None:
    page, block = _page(webui)
    send = Send(page, block, _loaded(block, small_exr))
    outputs = send.all("img2img", "Unit 1", report="")
    assert "page script that shows the target did not run" in outputs[1][block.status]
    assert all(is_unchanged(outputs[1][u.image]) for units in page.units.values() for u in units)
    assert outputs[1][block.plan] == "" and is_unchanged(outputs[2][block.status])
    assert all(is_unchanged(outputs[2][u.enable]) for units in page.units.values() for u in units)
    assert send.session.pending is None


def test_the_page_scripts_error_is_shown(webui: WebUI, small_exr: Path) -> None:
    page, block = _page(webui)
    report = json.dumps({"ok": False, "error": "#x did not appear"})
    outputs = Send(page, block, _loaded(block, small_exr)).all("img2img", "Unit 1", report=report)
    assert outputs[1][block.status] == "Nothing more sent: \\#x did not appear."  # Markdown-escaped


def test_an_image_that_did_not_settle_is_reported_and_its_settings_not_set(webui: WebUI, small_exr: Path) -> None:
    page, block = _page(webui)
    report = json.dumps({"ok": False, "error": "the sketch tool did not take the sent image"})
    outputs = Send(page, block, _loaded(block, small_exr)).all("txt2img", "Unit 0", settle=report)
    unit = page.units["txt2img"][0]
    assert outputs[1][unit.image] is not None
    assert is_unchanged(outputs[2][unit.enable])
    assert "but the sketch tool did not take the sent image" in outputs[2][block.status]


def test_an_unexpected_failure_ends_the_send_with_a_message(
    webui: WebUI, small_exr: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page, block = _page(webui)

    def crash(self: LoadedFile, *args: Any) -> Any:
        raise RuntimeError("disk_on_fire")

    monkeypatch.setattr(LoadedFile, "render_full", crash)
    outputs = Send(page, block, _loaded(block, small_exr)).all("img2img", "Unit 1")
    assert outputs[0][block.status] == "Nothing sent: unexpected error (RuntimeError: disk\\_on\\_fire)."
    assert outputs[0][block.plan] == "" and all(is_unchanged(o[block.status]) for o in outputs[1:])
    assert webui.errors() == []


def test_the_setting_can_leave_preprocessor_and_model_alone(webui: WebUI, small_exr: Path) -> None:
    page, block = _page(webui)
    webui.shared.opts.set("daz_depthmap_send_sets_model", False)  # read at send time: no Reload UI needed
    last = Send(page, block, _loaded(block, small_exr)).all("img2img", "Unit 0", model=DEPTH_MODEL)[2]
    unit = page.units["img2img"][0]
    assert last[unit.enable] is True
    assert is_unchanged(last[unit.preprocessor]) and is_unchanged(last[unit.model])
    assert "Preprocessor and model left as they were" in last[block.status]


def test_a_model_that_left_controlnets_list_is_not_set(
    webui: WebUI, small_exr: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page, block = _page(webui)
    external = types.ModuleType("internal_controlnet.external_code")
    external.get_models = lambda update=False: ["control_v11p_sd15_canny [d14c016b]"]  # the depth model was removed
    monkeypatch.setitem(sys.modules, "internal_controlnet.external_code", external)
    last = Send(page, block, _loaded(block, small_exr)).all("img2img", "Unit 0", model=DEPTH_MODEL)[2]
    unit = page.units["img2img"][0]
    assert is_unchanged(last[unit.model]) and last[unit.preprocessor] == "none"
    assert f"Model `{DEPTH_MODEL}` not set: it is not in ControlNet's model list any more" in last[block.status]


def test_choosing_a_tab_lists_its_units_and_the_mask_option(webui: WebUI) -> None:
    page, block = _page(webui, units=2)
    out = run_event(page.demo, event_index(page.demo, block.tab, "change"), {block.tab: "txt2img"}, {})
    assert out[block.unit]["choices"] == ["Unit 0", "Unit 1"] and out[block.unit]["value"] == "Unit 0"
    assert out[block.send_mask]["visible"] is False
    out = run_event(page.demo, event_index(page.demo, block.tab, "change"), {block.tab: "img2img"}, {})
    assert out[block.send_mask]["visible"] is True


def test_uploaded_names_cannot_leave_the_output_folder_and_the_saved_map_is_the_sent_one(
    webui: WebUI, daz_exr: Path, png_reader: Any
) -> None:
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
    outputs = Send(page, block, state[block.handles.session._id]).all("txt2img", "Unit 0")
    sent = decode_image(outputs[1][page.units["txt2img"][0].image])[:, :, 0]
    assert np.array_equal(sent, png_reader(written[0]))
