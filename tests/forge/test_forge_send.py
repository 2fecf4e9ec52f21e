"""Send to ControlNet on the Forge stand-in, in-process: the extension finds Forge's built-in ControlNet (ForgeCanvas
unit images paired with their hidden layers, the first build of each id under ``--api``), says so in one line, and
its send steps (the gradio listeners the page runs) put the map into a unit's canvas background as RGBA, tick
Enable, choose "None" and the model, and for the canvas set weight 0.3, steps 0–0.5 and Balanced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import standin_forge
from forge_helpers import Forge
from PIL import Image

from daz_depthmap.depth.mapping import to_8bit
from daz_depthmap.session.batch import full_maps
from daz_depthmap.tab.compat import listeners
from daz_depthmap.webui.controlnet.forge import ForgeControlNet, ForgeUnit
from tests.synthetic import daz_like_depth, figure_scene, render_canvases, write_depth_exr, write_vectors_exr

OK = '{"ok": true}'
KEEP = "Keep the unit's model"


class Steps:
    """The listeners of one send block's chain on the stand-in page, run as gradio runs them (inputs in order)."""

    def __init__(self, page: standin_forge.Page, block: Any, token: str) -> None:
        self.page, self.block = page, block
        found = listeners(page.demo)
        first = next(x for x in found if x.starts_on(block.send, "click"))
        self.chain = [first]
        while after := [x for x in found if x.trigger_after == self.chain[-1].key]:
            self.chain.append(after[0])
        assert len(self.chain) == 1 + 2 * block.max_pairs
        self.values: dict[int, Any] = {block.handles.session._id: token}

    def run(self, step: int, values: dict[Any, Any]) -> dict[Any, Any]:
        listener = self.chain[step]
        self.values.update({c._id: v for c, v in values.items()})
        args = [self.values.get(i, getattr(self.page.demo.blocks[i], "value", None)) for i in listener.inputs]
        out = listener.fn(*args)
        assert set(out) <= {self.page.demo.blocks[i] for i in listener.outputs}, "an update of an unwired component"
        return out

    def all(self, start: dict[Any, Any], finish: dict[Any, Any] | None = None) -> list[dict[Any, Any]]:
        outputs = [self.run(0, start)]
        plan = outputs[0].get(self.block.plan, "")
        for step in range(1, len(self.chain)):
            outputs.append(self.run(step, {self.block.plan: plan, self.block.report: OK, **(finish or {})}))
        return outputs


def _start(forge: Forge, **kwargs: Any) -> standin_forge.Page:
    forge.load_scripts()
    page = forge.start(**kwargs)
    assert forge.errors() == []
    return page


def _loaded(block: Any, *paths: Path) -> str:
    session = block.handles.sessions.open(None).session
    assert session.workspace.load(list(paths)).loaded
    return session.token


def _background_png(unit: standin_forge.ForgeUnit, value: Any) -> np.ndarray:
    """What the page gets for the background (gradio's postprocess: an RGBA PNG data URL), decoded."""
    sent = unit.canvas.background.postprocess(value)
    assert isinstance(sent, str) and sent.startswith("data:image/png;base64,")
    return unit.canvas.background.preprocess(sent)


@pytest.fixture
def small_exr(tmp_path: Path) -> Path:
    path = tmp_path / "scene.exr"
    write_depth_exr(path, daz_like_depth(90, 120, seed=5))
    return path


def test_forge_and_its_controlnet_are_found_and_said_in_one_line(
    forge: Forge, capsys: pytest.CaptureFixture[str]
) -> None:
    _start(forge, units=3, api=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("DAZ Depth:")]
    assert lines == [
        "DAZ Depth: Forge with its built-in ControlNet (txt2img 3 units, img2img 3 units): Send to ControlNet is on."
    ]
    block = forge.extension.send_block
    assert block.send is not None and block.notice() == lines[0]
    assert isinstance(block.controlnet, ForgeControlNet)


def test_api_copies_do_not_replace_the_page_units(forge: Forge) -> None:
    page = _start(forge, units=2, api=True)
    units = forge.extension.send_block.units
    assert [u.label for u in units["img2img"]] == ["Unit 0", "Unit 1"]
    for found, real in zip(units["img2img"], page.units["img2img"], strict=True):
        assert isinstance(found, ForgeUnit)
        assert found.background is real.canvas.background and found.background._id in page.demo.blocks
        assert found.steps is real.timestep_range and found.enable is real.enable


def test_forge_without_its_controlnet_says_so(forge: Forge, capsys: pytest.CaptureFixture[str]) -> None:
    _start(forge, units=0)
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("DAZ Depth:"))
    assert line.startswith("DAZ Depth: Forge, no ControlNet found")
    block = forge.extension.send_block
    assert block.send is None and "Forge's built-in ControlNet" in block.message.value


def test_sending_to_img2img_unit_1_fills_its_canvas_and_settings(forge: Forge, small_exr: Path) -> None:
    page = _start(forge, units=3)
    block = forge.extension.send_block
    token = _loaded(block, small_exr)
    maps = full_maps(block.handles.sessions.get(token).workspace.require_shown())
    steps = Steps(page, block, token)
    start = {block.tab: "img2img", block.unit: "Unit 1", block.send_mask: True}
    outputs = steps.all(start, {block.model: standin_forge.DEPTH_MODEL, block.follow_size: False})

    unit_id = "img2img_controlnet_ControlNet-1"
    plan = json.loads(outputs[0][block.plan])
    assert plan["steps"][1] == {
        "show": [f"{unit_id}_input_image"],
        "tick": f"{unit_id}_controlnet_same_img2img_checkbox",
        "wait": f"{unit_id}_input_image",
        "enable": f"{unit_id}_controlnet_enable_checkbox",
        "sketch": False,
        "size": [120, 90],
    }
    # the mask into Inpaint upload's gr.Image as a PNG file (gradio 4 would write an array as lossy WebP)
    mask_value = outputs[1][page.inpaint_mask]
    assert isinstance(mask_value, str) and mask_value.endswith(".png")
    assert np.array_equal(np.asarray(Image.open(mask_value)), maps.mask)
    target = page.units["img2img"][1]
    rgba = _background_png(target, outputs[3][target.canvas.background])
    assert rgba.shape == (90, 120, 4) and (rgba[:, :, 3] == 255).all()
    assert all(np.array_equal(rgba[:, :, c], to_8bit(maps.depth)) for c in range(3))
    others = [u.canvas.background for units in page.units.values() for u in units if u is not target]
    assert not any(c in outputs[3] for c in others)
    last = outputs[4]
    assert last[target.enable] is True
    assert last[target.preprocessor] == "None"  # Forge's spelling
    assert last[target.model] == standin_forge.DEPTH_MODEL
    assert target.type_filter not in last and target.timestep_range not in last
    status = last[block.status]
    for part in (
        "Sent `scene` (120 × 90) to **img2img › ControlNet Unit 1**",
        "image, Enable, preprocessor None",
        f"model `{standin_forge.DEPTH_MODEL}`",
        "Mask → img2img › Inpaint upload",
    ):
        assert part in status


def test_sending_to_txt2img_unit_0_needs_no_tick(forge: Forge, small_exr: Path) -> None:
    page = _start(forge, units=3)
    block = forge.extension.send_block
    steps = Steps(page, block, _loaded(block, small_exr))
    outputs = steps.all({block.tab: "txt2img", block.unit: "Unit 0", block.send_mask: True}, {block.model: KEEP})
    plan = json.loads(outputs[0][block.plan])
    assert len(plan["steps"]) == 1 and plan["steps"][0]["tick"] is None  # and no mask: that is img2img's
    unit = page.units["txt2img"][0]
    assert _background_png(unit, outputs[1][unit.canvas.background]).shape == (90, 120, 4)
    assert outputs[2][unit.enable] is True and unit.model not in outputs[2]
    assert "txt2img › ControlNet Unit 0" in outputs[2][block.status]


def test_the_canvas_set_fills_three_units_with_the_preset(forge: Forge, tmp_path: Path) -> None:
    scene = render_canvases(60, 80, figure_scene(), supersample=1)
    files = [tmp_path / "figure-Canvas1-Depth.exr", tmp_path / "figure-Canvas2-Normal.exr", tmp_path / "figure.png"]
    write_depth_exr(files[0], scene.depth)
    write_vectors_exr(files[1], scene.normals, half=True)
    Image.fromarray(np.full((60, 80, 3), 90, np.uint8)).save(files[2])
    page = _start(forge, units=3)
    block = forge.extension.set_block
    steps = Steps(page, block, _loaded(block, *files))
    start = {
        block.tab: "txt2img",
        block.init: False,
        block.weight: 0.3,
        block.guidance_end: 0.5,
        block.control_mode: "Balanced",
        block.pose_preprocessor: "dw_openpose_full",
        block.model["depth"]: standin_forge.DEPTH_MODEL,
        block.model["normal"]: standin_forge.NORMAL_MODEL,
        block.model["pose"]: standin_forge.POSE_MODEL,
    }
    outputs = steps.all(start, {block.follow_size: False})
    assert outputs[0][block.plan], outputs[0][block.status]
    settled = {}
    for out in outputs[2::2]:
        settled.update(out)
    for i, (pre, model) in enumerate(
        [
            ("None", standin_forge.DEPTH_MODEL),
            ("None", standin_forge.NORMAL_MODEL),
            ("dw_openpose_full", standin_forge.POSE_MODEL),
        ]
    ):
        unit = page.units["txt2img"][i]
        assert settled[unit.enable] is True and settled[unit.preprocessor] == pre and settled[unit.model] == model
        assert settled[unit.weight] == 0.3 and settled[unit.timestep_range] == (0.0, 0.5)
        assert settled[unit.control_mode] == "Balanced"
        assert unit.timestep_range.postprocess(settled[unit.timestep_range]) is not None
        delivered = next(out[unit.canvas.background] for out in outputs[1::2] if unit.canvas.background in out)
        assert _background_png(unit, delivered).shape == (60, 80, 4)
    status = next(out[block.status] for out in reversed(outputs) if isinstance(out.get(block.status), str))
    assert "Sent the set `figure` (80 × 60) to txt2img" in status
    assert "depth → **Unit 0** (image, Enable, weight 0.3, steps 0–0.5, control mode Balanced" in status


def test_hidden_img2img_is_not_offered(forge: Forge) -> None:
    forge.shared.opts.data["hidden_tabs"] = ["Img2img"]
    _start(forge, units=2)
    assert list(forge.extension.send_block.units) == ["txt2img"]


def test_regional_prompters_gradio_4_mask_is_said_not_supported() -> None:
    """On Forge, Regional Prompter builds its mask as gradio 4's ImageEditor: the block says so plainly."""
    import gradio as gr

    from daz_depthmap.tab.compat import GRADIO_MAJOR
    from daz_depthmap.webui.regional_prompter import RegionalPrompter
    from daz_depthmap.webui.targets import ComponentIndex

    if GRADIO_MAJOR < 4:
        pytest.skip("gr.ImageEditor is gradio 4's")
    index = ComponentIndex([RegionalPrompter.WANTED])
    with gr.Blocks():
        index.add(gr.ImageEditor(elem_id="polymaskt2i"))
        index.add(gr.Checkbox(label="Active", elem_id="RP_activet2i"))
    problem = RegionalPrompter(index, hidden_tabs=["img2img"]).problem()
    assert problem is not None and "is a gr.ImageEditor" in problem and "upload NAME.regions.png" in problem
