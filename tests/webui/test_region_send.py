"""Send to Regional Prompter through gradio's own event processing, on the stand-in page carrying Regional
Prompter's element ids, component types and build order (and the API's third copy of its UI): the region map lands
in the right canvas at the generation's size, Active is ticked and the Mask tab selected, and the prompt skeleton
goes into an empty prompt only. Without Regional Prompter, or with one that lacks a piece, the block says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import standin_webui
from webui_helpers import WebUI, decode_image, event_index, follow_ups, is_unchanged, run_event

from daz_depthmap.bands.plan import split_plan
from daz_depthmap.session.banding import BandSettings
from tests.synthetic import two_subject_depth, write_depth_exr

OK = '{"ok": true}'


def data_url(image: np.ndarray) -> str:
    """An image as the page sends it to gradio: a PNG data URL."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _page(webui: WebUI, **kwargs: Any) -> tuple[standin_webui.Page, Any]:
    webui.load_scripts()
    page = webui.start(**kwargs)
    return page, webui.extension.region_block


def _component(page: standin_webui.Page, elem_id: str) -> Any:
    return next(b for b in page.demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    path = tmp_path / "scene.exr"
    write_depth_exr(path, two_subject_depth(200, 160, seed=3))
    return path


def _loaded(block: Any, path: Path, regions: bool = True) -> str:
    session = block.handles.sessions.open(None).session
    ws = session.workspace
    assert ws.load([path]).loaded
    ws.update(depth_cutoff=500.0)
    plan = split_plan([265.0]).with_band(0, label="woman in red")
    if regions:
        plan = plan.with_band(0, region=0).with_band(1, region=1, label="man in blue")
    ws.set_bands(BandSettings(plan))
    return session.token


def _send(page: standin_webui.Page, block: Any, token: str, tab: str, at_size: bool = True) -> list[dict[Any, Any]]:
    steps = follow_ups(page.demo, event_index(page.demo, block.send, "click"))
    assert len(steps) == 3
    state = {block.handles.session._id: token}
    first = run_event(page.demo, steps[0], {block.tab: tab, block.at_size: at_size}, state)
    plan = first[block.plan]
    values = {block.plan: plan, block.report: OK}
    return [first, run_event(page.demo, steps[1], values, state), run_event(page.demo, steps[2], values, state)]


def test_the_region_map_lands_in_img2img_mask_mode(webui: WebUI, scene: Path) -> None:
    page, block = _page(webui, rp=True, api=True)  # with the API's throwaway copy of Regional Prompter's UI
    assert block.send is not None, block.message.value
    width, height = page.sliders["img2img"]
    width.value, height.value = 512, 640  # the generation size the map is written at
    first, deliver, configure = _send(page, block, _loaded(block, scene), "img2img")
    plan = json.loads(first[block.plan])
    assert plan["steps"] == [
        {"show": ["polymaski2i"], "tick": None, "wait": "polymaski2i", "enable": None, "sketch": True,
         "size": [512, 640]},
    ]  # fmt: skip
    canvas = _component(page, "polymaski2i")
    image = decode_image(deliver[canvas])
    assert image.shape == (640, 512, 3)
    seen = {tuple(int(v) for v in c) for c in np.unique(image.reshape(-1, 3), axis=0)}
    assert seen == {(0, 0, 0), *standin_webui.rp_colours(2)}  # Regional Prompter's exact colours 0 and 1
    assert is_unchanged(deliver[_component(page, "polymaskt2i")])  # txt2img's canvas is not touched
    active = _component(page, "input-accordion-m-2244101-checkbox")
    assert configure[active] is True
    assert configure[_component(page, "RP_modei2i")] == {"__type__": "update", "selected": "tMask"}
    assert is_unchanged(configure[_component(page, "input-accordion-m-2244100-checkbox")])  # txt2img's stays
    skeleton = configure[block.skeleton]
    assert skeleton["value"] == "woman in red BREAK\nman in blue" and skeleton["visible"] is True
    assert "2 regions" in configure[block.status] and "Active, Mask mode" in configure[block.status]


def test_what_regional_prompter_reads_after_the_send(webui: WebUI, scene: Path) -> None:
    """The stand-in's probe reads Active, the mode the Mask tab's select set and the canvas as Regional Prompter's
    process() gets them (gradio's sketch value); the page script's part (the select) is played by the test."""
    page, block = _page(webui, rp=True, probe=True)
    _, deliver, configure = _send(page, block, _loaded(block, scene), "txt2img", at_size=False)
    canvas = _component(page, "polymaskt2i")
    image = decode_image(deliver[canvas])
    state: dict[int, Any] = {}
    mask_tab = _component(page, "RP_Mask")
    run_event(page.demo, event_index(page.demo, mask_tab, "select"), {}, state)
    probe = _component(page, "txt2img_standin_rp_probe")
    out = _component(page, "txt2img_standin_rp_probe_out")
    values = {
        _component(page, "input-accordion-m-2244100-checkbox"): configure[
            _component(page, "input-accordion-m-2244100-checkbox")
        ],
        canvas: {"image": data_url(image), "mask": data_url(np.zeros_like(image))},  # as the sketch tool sends
    }
    report = json.loads(run_event(page.demo, event_index(page.demo, probe, "click"), values, state)[out])
    assert report["active"] is True and report["mode"] == "Mask"
    assert report["image"] == [200, 160, 3]  # the map's own size when not at the generation size
    depth = two_subject_depth(200, 160, seed=3)
    assert report["regions"] == {"0": int((depth < 265).sum()), "1": int(((depth >= 265) & (depth < 500)).sum())}


def test_the_skeleton_goes_into_an_empty_prompt_only(webui: WebUI, scene: Path) -> None:
    page, block = _page(webui, rp=True)
    configure = _send(page, block, _loaded(block, scene), "txt2img")[2]
    skeleton = configure[block.skeleton]["value"]
    prompt = _component(page, "txt2img_prompt")
    state: dict[int, Any] = {}
    put = event_index(page.demo, block.insert, "click")
    filled = run_event(page.demo, put, {block.skeleton: skeleton, block.tab: "txt2img", prompt: ""}, state)
    assert filled[prompt] == skeleton
    kept = run_event(page.demo, put, {block.skeleton: skeleton, block.tab: "txt2img", prompt: "a castle"}, state)
    assert prompt not in kept or kept[prompt] == {"__type__": "update"}
    assert "not empty" in kept[block.status]
    replace = event_index(page.demo, block.replace, "click")
    values = {block.skeleton: skeleton, block.tab: "txt2img", prompt: "a castle"}
    replaced = run_event(page.demo, replace, values, state)
    assert replaced[prompt] == skeleton


def test_without_region_numbers_nothing_is_sent(webui: WebUI, scene: Path) -> None:
    page, block = _page(webui, rp=True)
    first = _send(page, block, _loaded(block, scene, regions=False), "txt2img")[0]
    assert first[block.plan] == "" and "no band in use has a region number" in first[block.status]


def test_without_regional_prompter_the_block_says_how_to_get_it(webui: WebUI) -> None:
    _, block = _page(webui)
    assert block.send is None
    assert "install it from Extensions › Available" in block.message.value
    assert "hako-mikan/sd-webui-regional-prompter" in block.message.value


def test_the_old_active_checkbox_setting_works_too(webui: WebUI, scene: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regional Prompter's setting "Use old active check box" makes Active a plain checkbox RP_active{t2i,i2i}."""
    real = standin_webui.regional_prompter
    monkeypatch.setattr(standin_webui, "regional_prompter", lambda tab, number: real(tab, number, old_active=True))
    page, block = _page(webui, rp=True)
    configure = _send(page, block, _loaded(block, scene), "txt2img")[2]
    assert configure[_component(page, "RP_activet2i")] is True


def test_an_unknown_regional_prompter_is_named_with_what_it_lacks(
    webui: WebUI, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = standin_webui.regional_prompter
    monkeypatch.setattr(
        standin_webui, "regional_prompter", lambda tab, number: real(tab, number, modes_id=f"RP_tabs_{tab}")
    )
    _, block = _page(webui, rp=True)
    assert block.send is None
    message = block.message.value
    assert "not supported" in message and "mode tabs (#RP_modet2i)" in message and "by hand" in message
