"""Send to ControlNet on the Forge stand-in in Chromium: the real tab, the extension's ``javascript/*.js`` loaded
as Forge loads them, Forge's canvas and accordion scripts imitated. After a send, the stand-in's probe reads what
ControlNet's Python side would get from the unit's canvas background (an RGBA array) and its settings.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import standin_forge
from forge_helpers import REPO_ROOT, Forge, in_own_thread, served
from playwright.sync_api import Page, expect, sync_playwright

from daz_depthmap.depth.mapping import to_8bit
from daz_depthmap.session.batch import full_maps
from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.synthetic import figure_scene, render_canvases, write_depth_exr, write_vectors_exr

pytestmark = pytest.mark.browser
ARTIFACTS = REPO_ROOT / "test-artifacts"
SAMPLE = REPO_ROOT / "samples" / "daz_figure_depth.exr"
SCRIPTS = sorted((REPO_ROOT / "javascript").glob("*.js"))


def _in_chromium(url: str, steps: Callable[[Page], None]) -> None:
    def drive() -> None:
        errors: list[str] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.fulfill(status=200, body=""))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            expect(page.locator("#tab_txt2img")).to_be_attached(timeout=30_000)
            try:
                steps(page)
            finally:
                browser.close()
        assert errors == []

    in_own_thread(drive)


def _choose(page: Page, dropdown_id: str, option: str) -> None:
    """Pick an option of a gradio 4 dropdown."""
    page.locator(f"#{dropdown_id} input").click()
    page.locator(f"#{dropdown_id} ul.options li", has_text=option).first.click()
    expect(page.locator(f"#{dropdown_id} input")).to_have_value(option)


def _probe(page: Page, tab: str) -> dict:
    out = page.locator(f"#{tab}_standin_probe_out textarea")
    page.evaluate("(sel) => { document.querySelector(sel).value = ''; }", f"#{tab}_standin_probe_out textarea")
    page.click(f"#{tab}_standin_probe")
    expect(out).not_to_have_value("", timeout=15_000)
    return json.loads(out.input_value())


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _sent_depth(forge: Forge) -> np.ndarray:
    """The 8-bit depth map of the one session's file, as the send computes it."""
    store = forge.extension.sessions
    (token,) = list(store._sessions)  # the page's one session
    return to_8bit(full_maps(store.get(token).workspace.require_shown()).depth)


def test_send_to_img2img_unit_1_and_txt2img_unit_0_fills_their_canvases(forge: Forge) -> None:
    forge.load_scripts()
    page = forge.start(units=3, probe=True, api=True)
    expected: dict[str, np.ndarray] = {}

    def steps(browser: Page) -> None:
        browser.get_by_role("tab", name="DAZ Depth").click()
        expect(browser.locator("#daz_depthmap_cn_found")).to_contain_text("Forge with its built-in ControlNet")
        browser.set_input_files("#daz_depthmap_upload input[type=file]", str(SAMPLE))
        expect(browser.locator("#daz_depthmap_preview_depth img")).to_be_visible(timeout=30_000)
        expected["depth"] = _sent_depth(forge)
        browser.locator("#daz_depthmap_cn_target label", has_text="img2img").click()
        _choose(browser, "daz_depthmap_cn_unit", "Unit 1")
        _choose(browser, "daz_depthmap_cn_model", standin_forge.DEPTH_MODEL)
        browser.locator("#daz_depthmap_cn_send").click()
        status = browser.locator("#daz_depthmap_cn_status").first
        expect(status).to_contain_text("Sent daz_figure_depth (640 × 800) to img2img", timeout=30_000)

        unit = "img2img_controlnet_ControlNet-1"
        expect(browser.locator("#tab_img2img")).to_be_visible()
        expect(browser.locator("#img2img_controlnet #controlnet > .label-wrap")).to_have_class(re.compile(r"\bopen\b"))
        accordion = browser.locator("#img2img_controlnet_accordions > .input-accordion").nth(1)
        expect(accordion.locator(".label-wrap").first).to_have_class(re.compile(r"\bopen\b"))
        expect(browser.locator(f"#{unit}_input_image img.forge-image")).to_be_visible()
        expect(browser.locator(f"#{unit}_controlnet_same_img2img_checkbox input")).to_be_checked()
        expect(browser.locator(f"#{unit}_controlnet_enable_checkbox input")).to_be_checked()
        expect(accordion.locator(".input-accordion-checkbox")).to_be_checked()  # Forge's header follows Enable
        expect(browser.locator(f"#{unit}_controlnet_preprocessor_dropdown input")).to_have_value("None")
        _shot(browser, "forge_send_to_controlnet_img2img_unit1.png")

        report = _probe(browser, "img2img")
        got = report[unit]
        assert got["background"]["kind"] == "array" and got["background"]["shape"] == [800, 640, 4]
        assert got["background"]["rgb_equal"] and got["background"]["alpha"] == [255, 255]
        assert got["background"]["red_sum"] == int(expected["depth"].astype(np.int64).sum())
        assert got["enable"] is True and got["preprocessor"] == "None" and got["model"] == standin_forge.DEPTH_MODEL
        assert report["img2img_controlnet_ControlNet-0"]["background"] == {"kind": "none"}

        browser.get_by_role("tab", name="DAZ Depth").click()
        text = status.inner_text()
        assert "img2img › ControlNet Unit 1" in text and "preprocessor None" in text

        # again, to txt2img unit 0: nothing to tick there
        browser.locator("#daz_depthmap_cn_target label", has_text="txt2img").click()
        _choose(browser, "daz_depthmap_cn_unit", "Unit 0")
        browser.locator("#daz_depthmap_cn_send").click()
        expect(status).to_contain_text("to txt2img › ControlNet Unit 0: image, Enable", timeout=30_000)
        expect(browser.locator("#tab_txt2img")).to_be_visible()
        report = _probe(browser, "txt2img")
        got = report["txt2img_controlnet_ControlNet-0"]
        assert got["background"]["shape"] == [800, 640, 4]
        assert got["background"]["red_sum"] == int(expected["depth"].astype(np.int64).sum())
        _shot(browser, "forge_send_to_controlnet_txt2img_unit0.png")
        assert got["enable"] is True and got["preprocessor"] == "None", got

    url, stop = served(page, SCRIPTS)
    try:
        _in_chromium(url, steps)
    finally:
        stop()


def test_send_the_canvas_set_into_three_forge_units(forge: Forge, tmp_path: Path) -> None:
    scene = render_canvases(300, 400, figure_scene(), supersample=2)
    files = [tmp_path / "figure-Canvas1-Depth.exr", tmp_path / "figure-Canvas2-Normal.exr", tmp_path / "figure.png"]
    write_depth_exr(files[0], scene.depth)
    write_vectors_exr(files[1], scene.normals, half=True)
    render = np.full((300, 400, 3), 40, np.uint8)
    render[(scene.ids == 0) | (scene.ids == 1)] = (30, 60, 200)
    cv2.imwrite(str(files[2]), render)
    forge.load_scripts()
    page = forge.start(units=3, probe=True)

    def steps(browser: Page) -> None:
        browser.get_by_role("tab", name="DAZ Depth").click()
        browser.set_input_files("#daz_depthmap_upload input[type=file]", [str(f) for f in files])
        expect(browser.locator("#daz_depthmap_preview_normal img")).to_be_visible(timeout=30_000)
        browser.locator("#daz_depthmap_set > .label-wrap").click()
        expect(browser.locator("#daz_depthmap_set_send")).to_be_visible()
        _choose(browser, "daz_depthmap_set_depth_model", standin_forge.DEPTH_MODEL)
        browser.locator("#daz_depthmap_set_send").click()
        expect(browser.locator("#daz_depthmap_set_status").first).to_contain_text("Sent the set figure", timeout=60_000)
        expect(browser.locator("#tab_txt2img")).to_be_visible()
        report = _probe(browser, "txt2img")
        for i, (pre, model) in enumerate(
            [
                ("None", standin_forge.DEPTH_MODEL),
                ("None", standin_forge.NORMAL_MODEL),
                ("dw_openpose_full", standin_forge.POSE_MODEL),
            ]
        ):
            got = report[f"txt2img_controlnet_ControlNet-{i}"]
            assert got["background"]["shape"] == [300, 400, 4] and got["background"]["alpha"] == [255, 255]
            assert got["enable"] is True and got["preprocessor"] == pre and got["model"] == model
            assert got["weight"] == 0.3 and got["steps"] == [0.0, 0.5] and got["control_mode"] == "Balanced"
        assert report["txt2img_controlnet_ControlNet-1"]["background"]["rgb_equal"] is False  # the normal map
        _shot(browser, "forge_send_set.png")

    url, stop = served(page, SCRIPTS)
    try:
        _in_chromium(url, steps)
    finally:
        stop()
