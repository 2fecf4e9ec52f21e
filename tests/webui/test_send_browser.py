"""Send to ControlNet in a real browser: the DAZ Depth tab (the real ``build_tab``) next to stand-in txt2img/img2img
tabs carrying ControlNet's element ids and structure, with ``javascript/*.js`` loaded the way the WebUI loads them.

Upload an EXR, send it to img2img unit 1 with a depth model, the mask and the map's aspect: the img2img tab must
come up with the ControlNet accordion open on unit 1, the image visible at full resolution, Enable ticked,
preprocessor "none" and the model set; ControlNet must read the image back as its sketch dict with an empty mask.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import gradio as gr
import gradio.routes
import numpy as np
import pytest
import standin_webui
from playwright.sync_api import Page, expect, sync_playwright
from webui_helpers import REPO_ROOT, WebUI, in_own_thread

from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.synthetic import figure_scene, render_canvases, write_depth_exr, write_vectors_exr

ARTIFACTS = REPO_ROOT / "test-artifacts"
SAMPLE = REPO_ROOT / "samples" / "daz_figure_depth.exr"
TWO_FIGURES = REPO_ROOT / "samples" / "two_figures_depth.exr"

#: What the WebUI's own script.js gives extension scripts (written for this test): gradioApp(), onUiUpdate(),
#: onUiLoaded() (run once #txt2img_prompt exists).
WEBUI_SCRIPT = """
function gradioApp() {
    const app = document.getElementsByTagName("gradio-app")[0];
    return app ? (app.shadowRoot || app) : document;
}
const standinUpdate = [], standinLoaded = [];
let standinLoadedDone = false;
function onUiUpdate(callback) { standinUpdate.push(callback); }
function onUiLoaded(callback) { standinLoaded.push(callback); }
document.addEventListener("DOMContentLoaded", function () {
    new MutationObserver(function (mutations) {
        if (!standinLoadedDone && gradioApp().querySelector("#txt2img_prompt")) {
            standinLoadedDone = true;
            standinLoaded.forEach((callback) => callback());
        }
        standinUpdate.forEach((callback) => callback(mutations));
    }).observe(gradioApp(), { childList: true, subtree: true });
});
"""


#: Delays the ResizeObserver callbacks of the page by ``window.__roDelay`` ms: a busy page, on which gradio 3.41's
#: sketch tool (ControlNet's unit image) ignores its late resize and keeps 300x150 canvases (Sketch.svelte's
#: handle_canvas_resize) — the race behind a send whose unit read back a 300x150 mask.
SLOW_RESIZE = """(() => {
    const Native = window.ResizeObserver;
    window.__roDelay = 0;
    window.ResizeObserver = class {
        constructor(callback) {
            this.native = new Native((entries, observer) => {
                const delay = window.__roDelay;
                if (delay > 0) setTimeout(() => callback(entries, observer), delay); else callback(entries, observer);
            });
        }
        observe(target, options) { this.native.observe(target, options); }
        unobserve(target) { this.native.unobserve(target); }
        disconnect() { this.native.disconnect(); }
    };
})();"""


def _inject_scripts() -> Callable[[], None]:
    """Put script.js's stand-in and every ``javascript/*.js`` (sorted) into the page head and ``style.css`` at the
    end of the body, as the WebUI does."""
    scripts = sorted((REPO_ROOT / "javascript").glob("*.js"))
    head = f"<script>{WEBUI_SCRIPT}</script>\n" + "".join(
        f'<script type="text/javascript" src="file={path}?{int(path.stat().st_mtime)}"></script>\n' for path in scripts
    )
    style = REPO_ROOT / "style.css"
    tail = f'<link rel="stylesheet" property="stylesheet" href="file={style}?{int(style.stat().st_mtime)}">\n'
    templates = gradio.routes.templates
    original = templates.TemplateResponse

    def template_response(*args, **kwargs):
        response = original(*args, **kwargs)
        response.body = response.body.replace(b"</head>", head.encode("utf-8") + b"</head>", 1)
        response.body = response.body.replace(b"</body>", tail.encode("utf-8") + b"</body>", 1)
        response.init_headers()
        return response

    templates.TemplateResponse = template_response
    return lambda: setattr(templates, "TemplateResponse", original)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served_page(webui: WebUI, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, standin_webui.Page]]:
    yield from _serve(webui, monkeypatch, units=3, probe=True)


@pytest.fixture
def served_rp_page(webui: WebUI, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, standin_webui.Page]]:
    """The stand-in page with Regional Prompter in both generation tabs (and one ControlNet unit)."""
    yield from _serve(webui, monkeypatch, units=1, probe=True, rp=True)


def _serve(webui: WebUI, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> Iterator[tuple[str, standin_webui.Page]]:
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    webui.load_scripts()
    page = webui.start(**kwargs)
    undo = _inject_scripts()
    port = _free_port()
    app, _, _ = page.demo.queue().launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        allowed_paths=[str(REPO_ROOT / "javascript"), str(REPO_ROOT / "style.css")],
    )
    webui.script_callbacks.app_started_callback(page.demo, app)  # as the WebUI does once the server runs
    try:
        yield f"http://127.0.0.1:{port}/", page
    finally:
        undo()
        # gradio 3.41's queue can leave a websocket task waiting for a client that is gone, and uvicorn then waits
        # for it on shutdown for ever: close, and force the server down if it has not stopped after a while
        closing = threading.Thread(target=page.demo.close, daemon=True)
        closing.start()
        closing.join(3)  # a clean close takes well under a second
        if closing.is_alive():
            page.demo.server.force_exit = True
            closing.join(10)


def _choose(page: Page, dropdown_id: str, option: str) -> None:
    """Pick an option of a gradio 3 dropdown."""
    page.locator(f"#{dropdown_id} input").click()
    page.locator(f"#{dropdown_id} ul.options li", has_text=option).first.click()
    expect(page.locator(f"#{dropdown_id} input")).to_have_value(option)


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.mark.browser
def test_send_to_img2img_unit_1_shows_the_filled_unit(
    served_page: tuple[str, standin_webui.Page], webui: WebUI
) -> None:
    url, standin = served_page
    sessions = webui.extension.sessions
    in_own_thread(_drive_send, url, lambda: sessions.sessions == 0)  # Playwright's sync API needs its own thread
    assert isinstance(standin.demo, gr.Blocks)
    # the page left: it released its session through the extension's route on the WebUI's app
    assert sessions.sessions == 0 and sessions.upload_bytes() == 0


def _drive_send(url: str, released: Callable[[], bool]) -> None:
    unit = "img2img_controlnet_ControlNet-1"
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(SLOW_RESIZE)
        # no internet here: the theme's web fonts get an empty answer instead of a network error
        page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.fulfill(status=200, body=""))
        page.on("pageerror", lambda error: errors.append(str(error)))
        sockets: set[object] = set()  # gradio's queue: one websocket per event on its way

        def opened(socket: object) -> None:
            sockets.add(socket)
            socket.on("close", lambda _: sockets.discard(socket))  # type: ignore[attr-defined]

        page.on("websocket", opened)
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto(url)
        expect(page.locator("#tab_txt2img")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="DAZ Depth").click()
        expect(page.locator("#daz_depthmap_cn_send")).to_be_visible()

        page.set_input_files("#daz_depthmap_upload input[type=file]", str(SAMPLE))
        expect(page.locator("#daz_depthmap_preview_depth img")).to_be_visible(timeout=30_000)
        page.locator("#daz_depthmap_cn_target label", has_text="img2img").click()
        expect(page.locator("#daz_depthmap_cn_mask")).to_be_visible()
        _choose(page, "daz_depthmap_cn_unit", "Unit 1")
        _choose(page, "daz_depthmap_cn_model", standin_webui.DEPTH_MODEL)
        page.locator("#daz_depthmap_cn_mask input").check()
        page.locator("#daz_depthmap_cn_size input").check()
        # before: the accordion is closed, txt2img's "Textual Inversion" sub-tab and unit 0 are selected
        assert "open" not in (
            page.locator("#img2img_controlnet #controlnet > .label-wrap").get_attribute("class") or ""
        )

        started = time.perf_counter()
        page.evaluate("() => { window.__roDelay = 60; }")  # a busy page: the sketch tool misses its resize
        page.locator("#daz_depthmap_cn_send").click()
        expect(page.locator("#daz_depthmap_cn_status").first).to_contain_text("Sent daz_figure_depth", timeout=30_000)
        print(f"send to ControlNet: {time.perf_counter() - started:.2f} s until the status line")

        expect(page.locator("#tab_img2img")).to_be_visible()
        expect(page.locator("#tab_daz_depthmap")).to_be_hidden()
        expect(page.locator("#img2img_controlnet #controlnet > .label-wrap")).to_have_class(re.compile(r"\bopen\b"))
        expect(page.locator("#img2img_controlnet_tabs > .tab-nav > button").nth(1)).to_have_class(
            re.compile(r"\bselected\b")
        )
        image = page.locator(f"#{unit}_input_image")
        expect(image).to_be_visible()
        shown = page.locator(f"#{unit}_input_image img").first
        expect(shown).to_be_visible()
        natural = shown.evaluate("(img) => [img.naturalWidth, img.naturalHeight, img.getBoundingClientRect().width]")
        assert natural[:2] == [640, 800] and natural[2] > 50
        expect(page.locator(f"#{unit}_controlnet_same_img2img_checkbox input")).to_be_checked()
        expect(page.locator(f"#{unit}_controlnet_enable_checkbox input")).to_be_checked()
        expect(page.locator(f"#{unit}_controlnet_preprocessor_dropdown input")).to_have_value("none")
        expect(page.locator(f"#{unit}_controlnet_model_dropdown input")).to_have_value(standin_webui.DEPTH_MODEL)
        expect(page.locator("#img2img_controlnet_ControlNet-0_controlnet_enable_checkbox input")).not_to_be_checked()
        expect(page.locator("#img2img_controlnet_ControlNet-2_controlnet_model_dropdown input")).to_have_value("None")
        expect(page.locator("#img_inpaint_mask img").first).to_be_visible()
        expect(page.locator("#img2img_width input[type=number]")).to_have_value("456")  # 640:800 at 512 x 512
        expect(page.locator("#img2img_height input[type=number]")).to_have_value("576")
        _shot(page, "webui_send_to_controlnet_img2img_unit1.png")

        # What ControlNet receives when it reads the unit: its sketch dict, full resolution, grey, empty mask.
        page.locator("#img2img_standin_probe").click()
        probe = page.locator("#img2img_standin_probe_out textarea")
        expect(probe).not_to_have_value("", timeout=15_000)
        report = json.loads(probe.input_value())
        assert report[unit] == {
            "kind": "dict",
            "shape": [800, 640, 3],
            "dtype": "uint8",
            "channels_equal": True,
            "min": 0,
            "max": 255,
            "mask_shape": [800, 640, 3],
            "mask_max": 0,
        }
        assert report["img2img_controlnet_ControlNet-0"] == {"kind": "none"}
        assert report["inpaint_mask"][:2] == [800, 640]

        page.get_by_role("button", name="DAZ Depth").click()
        status = page.locator("#daz_depthmap_cn_status").first.inner_text()
        assert "img2img › ControlNet Unit 1" in status and "456 × 576" in status
        _shot(page, "webui_send_to_controlnet_status.png")

        # Again, to txt2img unit 2: no box to tick there, and its "Generation" sub-tab is not the selected one.
        page.locator("#daz_depthmap_cn_target label", has_text="txt2img").click()
        expect(page.locator("#daz_depthmap_cn_mask")).to_be_hidden()
        _choose(page, "daz_depthmap_cn_unit", "Unit 2")
        page.locator("#daz_depthmap_cn_send").click()
        expect(page.locator("#daz_depthmap_cn_status").first).to_contain_text("txt2img › ControlNet Unit 2")
        expect(page.locator("#tab_txt2img")).to_be_visible()
        expect(page.locator("#txt2img_controlnet_tabs > .tab-nav > button").nth(2)).to_have_class(
            re.compile(r"\bselected\b")
        )
        expect(page.locator("#txt2img_controlnet_ControlNet-2_input_image img").first).to_be_visible()
        expect(page.locator("#txt2img_controlnet_ControlNet-2_controlnet_enable_checkbox input")).to_be_checked()
        expect(page.locator("#txt2img_controlnet_ControlNet-2_controlnet_preprocessor_dropdown input")).to_have_value(
            "none"
        )
        _shot(page, "webui_send_to_controlnet_txt2img_unit2.png")
        for _ in range(100):  # the send's last steps are done before the page leaves
            if not sockets:
                break
            page.wait_for_timeout(100)
        page.goto("about:blank")  # the page leaves: it releases its session
        for _ in range(100):
            if released():
                break
            page.wait_for_timeout(100)
        browser.close()
    assert errors == []


@pytest.mark.browser
def test_send_to_regional_prompter_fills_its_mask_mode(served_rp_page: tuple[str, standin_webui.Page]) -> None:
    url, _ = served_rp_page
    in_own_thread(_drive_region_send, url)


def _drive_region_send(url: str) -> None:
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.fulfill(status=200, body=""))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto(url)
        expect(page.locator("#tab_txt2img")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="DAZ Depth").click()
        page.set_input_files("#daz_depthmap_upload input[type=file]", str(TWO_FIGURES))
        expect(page.locator("#daz_depthmap_preview_depth img")).to_be_visible(timeout=30_000)
        page.locator("#daz_depthmap .dazdm-bands-suggest").click()
        expect(page.locator("#daz_depthmap .dazdm-bands-table tbody tr")).to_have_count(2, timeout=15_000)
        page.locator("#daz_depthmap .dazdm-band-label").first.fill("woman in red")
        page.locator("#daz_depthmap .dazdm-band-label").first.press("Tab")
        page.wait_for_function("() => !dazDepthmap.live.busy('daz_depthmap')", timeout=15_000)
        page.locator("#daz_depthmap_rp > .label-wrap").click()  # the block's accordion starts closed
        expect(page.locator("#daz_depthmap_rp_send")).to_be_visible()
        page.locator("#daz_depthmap_rp_send").click()
        status = page.locator("#daz_depthmap_rp_status").first
        expect(status).to_contain_text("Sent the region map of", timeout=30_000)

        # the page now shows txt2img with Regional Prompter open on its Mask tab, the map in the canvas
        expect(page.locator("#tab_txt2img")).to_be_visible()
        expect(page.locator("#input-accordion-m-2244100 > .label-wrap")).to_have_class(re.compile(r"\bopen\b"))
        expect(page.locator("#RP_modet2i > .tab-nav > button").nth(1)).to_have_class(re.compile(r"\bselected\b"))
        shown = page.locator("#polymaskt2i img").first
        expect(shown).to_be_visible()
        assert shown.evaluate("(img) => [img.naturalWidth, img.naturalHeight]") == [512, 512]  # the generation's
        _shot(page, "webui_send_to_regional_prompter.png")

        # what Regional Prompter's process() reads: Active, the mode set by the Mask tab's select, both colours
        page.locator("#txt2img_standin_rp_probe").click()
        probe = page.locator("#txt2img_standin_rp_probe_out textarea")
        expect(probe).not_to_have_value("", timeout=15_000)
        report = json.loads(probe.input_value())
        assert report["active"] is True and report["mode"] == "Mask" and report["image"] == [512, 512, 3]
        assert sorted(report["regions"]) == ["0", "1"] and min(report["regions"].values()) > 1000

        # the skeleton goes into the empty prompt
        page.get_by_role("button", name="DAZ Depth").click()
        assert "stretched" in status.inner_text()  # 640 x 800 into 512 x 512: said
        skeleton = page.locator("#daz_depthmap_rp_skeleton textarea")
        assert skeleton.input_value() == "woman in red BREAK\nregion 1"
        page.locator("#daz_depthmap_rp_insert").click()
        expect(page.locator("#txt2img_prompt textarea")).to_have_value("woman in red BREAK\nregion 1")
        _shot(page, "webui_send_to_regional_prompter_status.png")
        browser.close()
    assert errors == []


@pytest.mark.browser
def test_send_the_canvas_set_fills_three_units(
    served_page: tuple[str, standin_webui.Page], tmp_path_factory: pytest.TempPathFactory
) -> None:
    url, _ = served_page
    folder = tmp_path_factory.mktemp("set")
    scene = render_canvases(300, 400, figure_scene(), supersample=2)
    files = [folder / "figure-Canvas1-Depth.exr", folder / "figure-Canvas2-Normal.exr", folder / "figure.png"]
    write_depth_exr(files[0], scene.depth)
    write_vectors_exr(files[1], scene.normals, half=True)
    render = np.full((300, 400, 3), 40, np.uint8)
    render[(scene.ids == 0) | (scene.ids == 1)] = (30, 60, 200)
    cv2.imwrite(str(files[2]), render)
    in_own_thread(_drive_set_send, url, files)


def _drive_set_send(url: str, files: list[Path]) -> None:
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.fulfill(status=200, body=""))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto(url)
        expect(page.locator("#tab_txt2img")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="DAZ Depth").click()
        page.set_input_files("#daz_depthmap_upload input[type=file]", [str(f) for f in files])
        expect(page.locator("#daz_depthmap_preview_normal img")).to_be_visible(timeout=30_000)
        expect(page.locator("#daz_depthmap_preview_beauty img")).to_be_visible()
        expect(page.locator("#daz_depthmap_files label")).to_have_text(["figure"])
        page.locator("#daz_depthmap_set > .label-wrap").click()
        expect(page.locator("#daz_depthmap_set_send")).to_be_visible()
        _choose(page, "daz_depthmap_set_depth_model", standin_webui.DEPTH_MODEL)
        page.locator("#daz_depthmap_set_send").click()
        status = page.locator("#daz_depthmap_set_status").first
        expect(status).to_contain_text("Sent the set figure", timeout=60_000)

        expect(page.locator("#tab_txt2img")).to_be_visible()
        for i, (pre, model) in enumerate(
            [
                ("none", standin_webui.DEPTH_MODEL),
                ("none", standin_webui.NORMAL_MODEL),
                ("dw_openpose_full", standin_webui.POSE_MODEL),
            ]
        ):
            unit = f"txt2img_controlnet_ControlNet-{i}"
            shown = page.locator(f"#{unit}_input_image img").first
            page.locator("#txt2img_controlnet_tabs > .tab-nav > button").nth(i).click()
            expect(shown).to_be_visible()
            assert shown.evaluate("(img) => [img.naturalWidth, img.naturalHeight]") == [400, 300]
            expect(page.locator(f"#{unit}_controlnet_enable_checkbox input")).to_be_checked()
            expect(page.locator(f"#{unit}_controlnet_preprocessor_dropdown input")).to_have_value(pre)
            expect(page.locator(f"#{unit}_controlnet_model_dropdown input")).to_have_value(model)
            expect(page.locator(f"#{unit}_controlnet_control_weight_slider input[type=number]")).to_have_value("0.3")
            expect(page.locator(f"#{unit}_controlnet_ending_control_step_slider input[type=number]")).to_have_value(
                "0.5"
            )
            expect(page.locator(f"#{unit}_controlnet_control_mode_radio input[value=Balanced]")).to_be_checked()
            _shot(page, f"webui_send_set_unit{i}.png")

        # What ControlNet receives: each unit's image as its sketch dict, full resolution.
        page.locator("#txt2img_standin_probe").click()
        probe = page.locator("#txt2img_standin_probe_out textarea")
        expect(probe).not_to_have_value("", timeout=15_000)
        report = json.loads(probe.input_value())
        for i in range(3):
            assert report[f"txt2img_controlnet_ControlNet-{i}"]["shape"] == [300, 400, 3]
        assert report["txt2img_controlnet_ControlNet-1"]["channels_equal"] is False  # the normal map is colour

        # a unit chosen twice is said, and nothing is sent
        page.get_by_role("button", name="DAZ Depth").click()
        _choose(page, "daz_depthmap_set_pose_unit", "Unit 1")
        page.locator("#daz_depthmap_set_send").click()
        expect(status).to_contain_text("Unit 1 was chosen for two parts", timeout=15_000)
        _shot(page, "webui_send_set_status.png")
        browser.close()
    assert errors == []
