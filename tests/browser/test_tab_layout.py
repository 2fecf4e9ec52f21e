"""The tab's layout as users see it at laptop sizes: the preview and Save stay in view beside the histogram and the
controls (after an upload, with bands, for a canvas set), and nothing overlaps at 1024 px wide.

Each test opens its own page at the size it checks. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.synthetic import Sphere, render_canvases, write_depth_exr, write_vectors_exr

pytestmark = pytest.mark.browser

P = "daz_depthmap"
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "two_figures_depth.exr"
PREVIEW = f"#{P}_preview_depth img"


def rect(page, selector: str) -> dict:
    return page.evaluate(
        "(sel) => { const r = document.querySelector(sel).getBoundingClientRect(); "
        "return {x: r.x, y: r.y, top: r.top, bottom: r.bottom, left: r.left, right: r.right, "
        "width: r.width, height: r.height}; }",
        selector,
    )


def assert_in_view(page, selector: str, what: str) -> dict:
    box = rect(page, selector)
    size = page.viewport_size
    assert box["width"] > 0 and box["height"] > 0, f"{what} is not shown: {box}"
    assert box["top"] >= 0 and box["bottom"] <= size["height"], f"{what} is outside the viewport: {box}"
    assert box["left"] >= 0 and box["right"] <= size["width"], f"{what} is outside the viewport: {box}"
    return box


def sized_page(browser, app, open_tab, width: int, height: int):
    page = open_tab(browser, app)
    page.set_viewport_size({"width": width, "height": height})
    return page


def upload(page, *files: Path) -> None:
    page.set_input_files(f"#{P}_upload input[type=file]", [str(f) for f in files])
    page.wait_for_selector(PREVIEW, timeout=30_000)
    page.wait_for_function("(p) => !dazDepthmap.live.busy(p)", arg=P)


@pytest.fixture
def ball(tmp_path: Path) -> list[Path]:
    """A canvas set of three files: Depth and Normal canvases and the render image."""
    scene = render_canvases(161, 161, (Sphere((0.0, 0.0, -300.0), 60.0),))
    depth, normal, render = (tmp_path / n for n in ("ball-Canvas1-Depth.exr", "ball-Canvas2-Normal.exr", "ball.png"))
    write_depth_exr(depth, scene.depth)
    write_vectors_exr(normal, scene.normals, half=True)
    picture = np.zeros((161, 161, 3), np.uint8)
    picture[np.isfinite(scene.depth)] = (0, 200, 0)
    cv2.imwrite(str(render), picture)
    return [depth, normal, render]


def test_preview_and_save_in_view_after_an_upload_and_with_bands(browser, app, open_tab, artifacts: Path):
    page = sized_page(browser, app, open_tab, 1280, 800)
    upload(page, SAMPLE)
    assert_in_view(page, PREVIEW, "the depth preview")
    assert_in_view(page, f"#{P}_save", "Save")
    page.screenshot(path=str(artifacts / "layout_1280x800.png"))
    # the options' help: one line each, the whole text in the tooltip; the rarely used parts folded away
    help_box = page.evaluate(
        "(sel) => { const b = document.querySelector(sel); const h = b.querySelector(':scope > div:not(.wrap), "
        '[data-testid="block-info"]\'); return {title: b.title, height: h.getBoundingClientRect().height}; }',
        f"#{P}_compress_map",
    )
    assert help_box["title"].startswith("Spread the distinct depths") and help_box["height"] < 30
    assert not page.is_visible(f"#{P}_process_how") and not page.is_visible(f"#{P}_focal")
    page.click(f"#{P} .dazdm-bands-suggest")
    page.wait_for_function("(sel) => document.querySelectorAll(sel).length >= 2", arg=f"#{P} .dazdm-bands-table tr")
    # working on the bands (scrolled down to the band panel), the preview and Save stay in view
    page.locator(f"#{P} .dazdm-bands-table").scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, 200)")
    assert_in_view(page, PREVIEW, "the depth preview (with bands)")
    assert_in_view(page, f"#{P}_save", "Save (with bands)")
    page.screenshot(path=str(artifacts / "layout_1280x800_bands.png"))
    assert not page.errors
    page.close()


def test_preview_and_save_in_view_for_a_canvas_set(browser, app, open_tab, ball, artifacts: Path):
    page = sized_page(browser, app, open_tab, 1280, 800)
    upload(page, *ball)
    page.wait_for_selector(f"#{P}_preview_normal img", timeout=30_000)
    assert_in_view(page, PREVIEW, "the depth preview")
    assert_in_view(page, f"#{P}_preview_normal img", "the normal preview")
    assert_in_view(page, f"#{P}_save", "Save")
    page.screenshot(path=str(artifacts / "layout_1280x800_set.png"))
    assert not page.errors
    page.close()


def test_wide_screen_screenshot(browser, app, open_tab, artifacts: Path):
    page = sized_page(browser, app, open_tab, 1920, 1080)
    upload(page, SAMPLE)
    assert_in_view(page, PREVIEW, "the depth preview")
    assert_in_view(page, f"#{P}_save", "Save")
    page.screenshot(path=str(artifacts / "layout_1920x1080.png"))
    page.close()


def test_nothing_overlaps_at_1024_wide(browser, app, open_tab, artifacts: Path):
    page = sized_page(browser, app, open_tab, 1024, 768)
    overlaps = page.evaluate(
        """(p) => {
            const root = document.getElementById(p);
            // the upload's label and the drop zone's text
            const label = root.querySelector('#' + p + '_upload label, #' + p + '_upload [data-testid="block-label"]');
            const drop = [...root.querySelectorAll('#' + p + '_upload *')].find(
                (e) => [...e.childNodes].some((n) => n.nodeType === 3 && /Drop File Here/i.test(n.textContent)));
            if (!label || !drop) return ['upload label or drop text not found'];
            const text = [...drop.childNodes].find((n) => n.nodeType === 3 && /Drop File Here/i.test(n.textContent));
            const range = document.createRange();
            range.selectNodeContents(text);
            const a = label.getBoundingClientRect(), b = range.getBoundingClientRect();
            const hit = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
            return hit ? [`upload label ${JSON.stringify(a)} covers the drop text ${JSON.stringify(b)}`] : [];
        }""",
        P,
    )
    page.screenshot(path=str(artifacts / "layout_1024.png"))
    assert overlaps == []
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1024, "the page scrolls sideways at 1024 px"
    page.close()


def test_a_warning_does_not_move_the_slider_and_band_checkboxes_look_ticked(browser, app, open_tab, artifacts: Path):
    page = sized_page(browser, app, open_tab, 1280, 800)
    upload(page, SAMPLE)
    slider = f"#{P}_cutoff input[type=range]"
    histogram = f"#{P}_histogram"

    def slider_below_histogram_top() -> float:  # what a wrapping toolbar changes (the status above may settle)
        return rect(page, slider)["y"] - rect(page, histogram)["y"]

    before = slider_below_histogram_top()
    bar = rect(page, f"#{P} .dazdm-histo-bar")
    page.fill(f"#{P}_cutoff input[type=number]", "120")  # nearer than every depth: the caption warns
    page.press(f"#{P}_cutoff input[type=number]", "Enter")
    page.wait_for_function(
        "(sel) => document.querySelector(sel).textContent.startsWith('⚠')", arg=f"#{P} .dazdm-histo-caption"
    )
    assert slider_below_histogram_top() == pytest.approx(before, abs=0.5), "the slider moved under the pointer"
    assert rect(page, f"#{P} .dazdm-histo-bar")["height"] == pytest.approx(bar["height"], abs=0.5)
    caption = page.locator(f"#{P} .dazdm-histo-caption")
    assert caption.get_attribute("title").startswith("⚠")  # the whole warning, however the line is cut
    page.screenshot(path=str(artifacts / "layout_warning.png"))
    # the band panel's checkboxes: the browser's own look, so a ticked one shows its tick
    page.click(f"#{P} .dazdm-use-suggestion")
    page.wait_for_function(
        "(sel) => !document.querySelector(sel).textContent.startsWith('⚠')", arg=f"#{P} .dazdm-histo-caption"
    )
    page.click(f"#{P} .dazdm-bands-suggest")
    page.wait_for_selector(f"#{P} .dazdm-bands-table tbody tr input[type=checkbox]")
    looks = page.evaluate(
        "(p) => [...document.querySelectorAll('#' + p + ' .dazdm-bands input[type=checkbox]')]"
        ".map((box) => getComputedStyle(box).appearance)",
        P,
    )
    assert looks and set(looks) == {"auto"}
    assert not page.errors
    page.close()
