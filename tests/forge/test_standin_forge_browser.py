"""The Forge stand-in in Chromium: a unit's canvas takes a file from its file input (and Enable ticks, as
ControlNet's script does) or an array from Python through its background, and the probe reads back what
ControlNet would receive. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from forge_helpers import REPO_ROOT, Forge, in_own_thread, served
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from tests.chromium import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser
ARTIFACTS = REPO_ROOT / "test-artifacts"


def _in_chromium(url: str, steps: Callable[[Page], None]) -> None:
    """Open ``url`` in Chromium (its own thread: Playwright's sync API) and run ``steps``; no page errors allowed."""

    def drive() -> None:
        errors: list[str] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            # no internet here: the theme's web fonts get an empty answer instead of a network error
            page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.fulfill(status=200, body=""))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            page.wait_for_selector("#txt2img_prompt", state="attached", timeout=30_000)
            try:
                steps(page)
            finally:
                browser.close()
        assert errors == []

    in_own_thread(drive)


def _probe(page: Page, tab: str) -> dict:
    out = f"#{tab}_standin_probe_out textarea"
    page.evaluate("(sel) => { document.querySelector(sel).value = ''; }", out)
    page.click(f"#{tab}_standin_probe")
    page.wait_for_function("(sel) => document.querySelector(sel).value !== ''", arg=out)
    return json.loads(page.input_value(out))


def _shows(page: Page, image_id: str, width: int) -> None:
    """Wait until the canvas of ``image_id`` shows an image ``width`` pixels wide."""
    page.wait_for_function(
        "([sel, w]) => { const img = document.querySelector(sel);"
        " return img.complete && img.naturalWidth === w && img.style.display === 'block'; }",
        arg=[f"#{image_id} img.forge-image", width],
    )


def test_a_file_chosen_in_a_unit_lands_in_its_background_and_ticks_enable(forge: Forge, tmp_path: Path) -> None:
    page = forge.start(units=3, probe=True)
    picture = np.zeros((90, 160, 3), np.uint8)
    picture[:, :80] = 200
    Image.fromarray(picture).save(tmp_path / "pic.png")
    prefix = "txt2img_controlnet_ControlNet-1"

    def steps(browser_page: Page) -> None:
        browser_page.get_by_role("tab", name="Txt2img").click()
        browser_page.get_by_role("tab", name="Generation").first.click()
        browser_page.click("#txt2img_controlnet #controlnet > .label-wrap")
        unit = browser_page.locator("#txt2img_controlnet_accordions > .input-accordion").nth(1)
        unit.locator(".label-wrap").first.click()
        unit.locator(f"#{prefix}_input_image input.forge-file-upload").set_input_files(str(tmp_path / "pic.png"))
        _shows(browser_page, f"{prefix}_input_image", 160)
        assert unit.locator(f"#{prefix}_controlnet_enable_checkbox input").is_checked()
        assert unit.locator(".input-accordion-checkbox").is_checked()
        ARTIFACTS.mkdir(exist_ok=True)
        browser_page.screenshot(path=str(ARTIFACTS / "forge_standin_upload.png"), full_page=True)
        report = _probe(browser_page, "txt2img")[prefix]
        assert report["background"]["shape"] == [90, 160, 4] and report["background"]["dtype"] == "uint8"
        assert report["background"]["alpha"] == [255, 255] and report["background"]["max"] == 200
        assert report["foreground"] == [90, 160, 4] and report["enable"] is True
        assert report["steps"] == [0.0, 1.0] and report["preprocessor"] == "depth_midas"

    url, stop = served(page)
    try:
        _in_chromium(url, steps)
    finally:
        stop()


def test_an_array_sent_to_a_background_shows_in_the_canvas(forge: Forge) -> None:
    page = forge.start(units=2, probe=True)
    unit = page.units["img2img"][1]
    grey = np.tile(np.arange(0, 250, 2, dtype=np.uint8), (64, 1))  # 64 x 125
    with page.demo:
        send = gr.Button("send", elem_id="standin_test_send")
        send.click(lambda: grey, None, [unit.canvas.background])

    def steps(browser_page: Page) -> None:
        browser_page.get_by_role("tab", name="Img2img").click()
        browser_page.locator("#tab_img2img").get_by_role("tab", name="Generation").click()
        browser_page.click("#img2img_controlnet #controlnet > .label-wrap")
        accordion = browser_page.locator("#img2img_controlnet_accordions > .input-accordion").nth(1)
        accordion.locator(".label-wrap").first.click()
        accordion.locator(f"#{unit.prefix}_controlnet_same_img2img_checkbox input").check()
        browser_page.wait_for_selector(f"#{unit.prefix}_input_image .forge-image-container", state="visible")
        browser_page.click("#standin_test_send")
        _shows(browser_page, f"{unit.prefix}_input_image", 125)
        report = _probe(browser_page, "img2img")[unit.prefix]
        background = report["background"]
        assert background["shape"] == [64, 125, 4] and background["rgb_equal"] and background["alpha"] == [255, 255]
        assert (background["min"], background["max"], background["corner"]) == (0, 248, 0)
        assert background["red_sum"] == int(grey.astype(np.int64).sum())
        assert report["enable"] is False  # a value from Python does not tick Enable

    url, stop = served(page)
    try:
        _in_chromium(url, steps)
    finally:
        stop()
