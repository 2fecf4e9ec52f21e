"""Send the canvas set to ControlNet through gradio's own event processing, on the stand-in page: three units get
the depth, normal and beauty images with their models, preprocessors, weight, ending step and control mode; too few
units and a unit chosen twice are said before anything is sent; in img2img the beauty can become the image to
inpaint with the mask beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import standin_webui
from webui_helpers import WebUI, decode_image, event_index, follow_ups, is_unchanged, run_event

from daz_depthmap.session.batch import full_maps
from daz_depthmap.session.canvas_set import full_normal_map
from tests.synthetic import figure_scene, render_canvases, write_depth_exr, write_vectors_exr

OK = '{"ok": true}'
DEPTH_MODEL = standin_webui.DEPTH_MODEL


@pytest.fixture
def canvas_set(tmp_path: Path) -> list[Path]:
    scene = render_canvases(90, 120, figure_scene())
    files = [tmp_path / "fig-Canvas1-Depth.exr", tmp_path / "fig-Canvas2-Normal.exr", tmp_path / "fig.png"]
    write_depth_exr(files[0], scene.depth)
    write_vectors_exr(files[1], scene.normals, half=True)
    render = np.full((90, 120, 3), 40, np.uint8)
    render[(scene.ids == 0) | (scene.ids == 1)] = (30, 60, 200)  # BGR: the sphere and the box; backdrop grey
    cv2.imwrite(str(files[2]), render)
    return files


def _page(webui: WebUI, **kwargs: Any) -> tuple[standin_webui.Page, Any]:
    webui.load_scripts()
    page = webui.start(**kwargs)
    return page, webui.extension.set_block


def _loaded(block: Any, files: list[Path]) -> str:
    session = block.handles.sessions.open(None).session
    assert session.workspace.load(files).loaded == ["fig"]
    return session.token


def _send(page: standin_webui.Page, block: Any, token: str, **values: Any) -> list[dict[Any, Any]]:
    steps = follow_ups(page.demo, event_index(page.demo, block.send, "click"))
    state = {block.handles.session._id: token}
    first = run_event(page.demo, steps[0], {getattr_path(block, k): v for k, v in values.items()}, state)
    outputs = [first]
    step = {block.plan: first[block.plan], block.report: OK}
    for index in steps[1:]:
        outputs.append(run_event(page.demo, index, step, state))
    return outputs


def last_status(block: Any, outputs: list[dict[Any, Any]]) -> str:
    """The status line the send ended with (later steps of unused pair slots leave it as it is)."""
    return next(out[block.status] for out in reversed(outputs) if not is_unchanged(out[block.status]))


def getattr_path(block: Any, key: str) -> Any:
    """``"unit.normal"`` -> ``block.unit["normal"]``; ``"tab"`` -> ``block.tab``."""
    name, _, part = key.partition(".")
    found = getattr(block, name)
    return found[part] if part else found


def test_the_set_fills_three_units_with_their_settings(webui: WebUI, canvas_set: list[Path]) -> None:
    page, block = _page(webui, units=3)
    assert block.send is not None and block.hint.value == ""
    token = _loaded(block, canvas_set)
    shown = block.handles.sessions.get(token).workspace.require_shown()
    outputs = _send(page, block, token, tab="txt2img", **{"model.depth": DEPTH_MODEL})
    plan = json.loads(outputs[0][block.plan])
    assert [step["show"][0] for step in plan["steps"]] == [
        f"txt2img_controlnet_ControlNet-{i}_input_image" for i in range(3)
    ]
    units = page.units["txt2img"]
    delivered = {i: decode_image(out[units[i].image]) for i, out in zip(range(3), outputs[1::2], strict=False)}
    expected_depth = full_maps(shown).depth
    assert np.array_equal(delivered[0][..., 0], expected_depth)
    assert np.array_equal(delivered[1], full_normal_map(shown.file, shown.parts, shown.normal).image)
    assert delivered[2][45, 60].tolist() != delivered[2][0, 0].tolist() and delivered[2][0, 0].tolist() == [40] * 3
    settled = {}
    for out in outputs[2::2]:
        settled.update({k: v for k, v in out.items() if not is_unchanged(v)})
    assert [settled[u.enable] for u in units] == [True, True, True]
    assert [settled[u.preprocessor] for u in units] == ["none", "none", "dw_openpose_full"]
    assert [settled[u.model] for u in units] == [DEPTH_MODEL, standin_webui.NORMAL_MODEL, standin_webui.POSE_MODEL]
    assert [settled[u.weight] for u in units] == [0.3] * 3
    assert [settled[u.guidance_end] for u in units] == [0.5] * 3
    assert [settled[u.control_mode] for u in units] == ["Balanced"] * 3
    status = last_status(block, outputs)
    assert status.startswith("Sent the set `fig` (120 × 90) to txt2img: depth → **Unit 0**")
    assert "normal → **Unit 1**" in status and "beauty (pose) → **Unit 2**" in status


def test_with_default_settings_every_unit_gets_a_model_of_its_kind(webui: WebUI, canvas_set: list[Path]) -> None:
    """The Settings' depth model starts at "Keep the unit's model": the set's depth unit still gets a depth model
    (ControlNet refuses to generate with a unit whose model is None)."""
    page, block = _page(webui, units=3)
    assert block.model["depth"].value == DEPTH_MODEL
    token = _loaded(block, canvas_set)
    outputs = _send(page, block, token, tab="txt2img")
    settled = {}
    for out in outputs[2::2]:
        settled.update({k: v for k, v in out.items() if not is_unchanged(v)})
    units = page.units["txt2img"]
    assert [settled.get(u.model) for u in units] == [DEPTH_MODEL, standin_webui.NORMAL_MODEL, standin_webui.POSE_MODEL]


def test_too_few_units_are_said_and_parts_can_be_left_out(webui: WebUI, canvas_set: list[Path]) -> None:
    page, block = _page(webui, units=2)
    assert "ControlNet shows 2 units in txt2img" in block.hint.value and "unit number" in block.hint.value
    token = _loaded(block, canvas_set)
    first = _send(page, block, token, tab="txt2img")[0]
    assert first[block.plan] == "" and "choose a unit for the pose map in txt2img" in first[block.status]
    twice = _send(page, block, token, tab="txt2img", **{"unit.pose": "Unit 0"})[0]
    assert "Unit 0 was chosen for two parts" in twice[block.status]
    outputs = _send(page, block, token, tab="txt2img", **{"use.pose": False})
    assert [step["show"][0] for step in json.loads(outputs[0][block.plan])["steps"]] == [
        "txt2img_controlnet_ControlNet-0_input_image",
        "txt2img_controlnet_ControlNet-1_input_image",
    ]
    assert "beauty" not in last_status(block, outputs)


def test_img2img_inpaints_around_the_figure(webui: WebUI, canvas_set: list[Path]) -> None:
    page, block = _page(webui, units=3)
    token = _loaded(block, canvas_set)
    outputs = _send(page, block, token, tab="img2img", init=True, **{"use.normal": False, "use.pose": False})
    shows = [step["show"][0] for step in json.loads(outputs[0][block.plan])["steps"]]
    assert shows == ["img_inpaint_base", "img_inpaint_mask", "img2img_controlnet_ControlNet-0_input_image"]
    base = next(b for b in page.demo.blocks.values() if getattr(b, "elem_id", None) == "img_inpaint_base")
    image = decode_image(outputs[1][base])
    assert image.shape[:2] == (90, 120) and image[0, 0][:3].tolist() == [40, 40, 40]
    assert decode_image(outputs[3][page.inpaint_mask]).max() == 255


def test_a_lone_depth_file_sends_its_depth_and_says_what_was_left_out(webui: WebUI, tmp_path: Path) -> None:
    page, block = _page(webui, units=3)
    path = tmp_path / "plain.exr"
    write_depth_exr(path, render_canvases(60, 80, figure_scene()).depth)
    session = block.handles.sessions.open(None).session
    session.workspace.load([path])
    outputs = _send(page, block, session.token, tab="txt2img")
    status = last_status(block, outputs)
    assert "depth → **Unit 0**" in status
    assert "No Normal canvas in this set: the normal map was left out" in status
    assert "No beauty render in this set: the pose unit was left out" in status
