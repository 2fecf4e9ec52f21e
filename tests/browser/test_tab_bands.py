"""Depth bands in a real browser: suggest, add, drag and remove splits on the histogram, type levels, the test
colour and region previews, Save with a region map, recipe export and import.

One app page with the bundled two-figure sample (near figure 150..210 cm, far figure 330..400 cm, backdrop at
~800 cm), shared by the tests of this module in order. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from daz_depthmap.bands.plan import MAX_REGION, TOTAL_LEVELS
from daz_depthmap.bands.regions import region_colour
from daz_depthmap.exr import read_depth
from daz_depthmap.session.loaded import preview_indices
from tests.chromium import shown_picture

pytestmark = pytest.mark.browser

P = "daz_depthmap"
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "two_figures_depth.exr"
PREVIEW = f"#{P}_preview_depth img"
ROWS = f"#{P} .dazdm-bands-table tbody tr"


def settled(page, timeout: float = 20_000) -> dict:
    """The server's answer to the newest live request, once nothing waits to be sent or is on its way."""
    page.wait_for_function(
        """(p) => { const s = dazDepthmap.live.status(p);
                    return !dazDepthmap.live.busy(p) && s.lastReply && s.lastReply.seq === s.seq; }""",
        arg=P,
        timeout=timeout,
    )
    return page.evaluate("(p) => dazDepthmap.live.status(p).lastReply", P)


def plan(page) -> dict:
    return page.evaluate("(p) => dazDepthmap.bandPanel.plan(p)", P)


def picture(page) -> np.ndarray:
    return shown_picture(page, PREVIEW, "RGB")


def histogram_x(page, depth: float) -> tuple[float, float]:
    """Page coordinates of ``depth`` on the histogram's axis (mid-height)."""
    box = page.locator(f"#{P} .dazdm-histo-canvas").bounding_box()
    geo = page.evaluate("(sel) => ({...document.querySelector(sel).dataset})", f"#{P} .dazdm-histo-canvas")
    lo, hi, left, width = (float(geo[k]) for k in ("lo", "hi", "plotLeft", "plotWidth"))
    return box["x"] + left + (depth - lo) / (hi - lo) * width, box["y"] + box["height"] * 0.6


def per_pixel(page) -> float:
    geo = page.evaluate("(sel) => ({...document.querySelector(sel).dataset})", f"#{P} .dazdm-histo-canvas")
    return (float(geo["hi"]) - float(geo["lo"])) / float(geo["plotWidth"])


@pytest.fixture(scope="module")
def truth():
    image = read_depth(SAMPLE)
    return image.depth


@pytest.fixture(scope="module")
def page(browser, app, open_tab, artifacts: Path):
    page = open_tab(browser, app)
    page.set_input_files(f"#{P}_upload input[type=file]", str(SAMPLE))
    page.wait_for_selector(PREVIEW, timeout=30_000)
    page.wait_for_function("(p) => dazDepthmap.bandPanel.plan(p)", arg=P)
    yield page
    assert not page.errors, f"JavaScript errors on the page: {page.errors}"
    page.close()


def test_suggest_bands_splits_between_the_figures(page, artifacts: Path):
    assert page.is_visible(f"#{P} .dazdm-bands-hint") and not page.is_visible(f"#{P} .dazdm-bands-table")
    page.evaluate(
        "(p) => { window.__replies = []; dazDepthmap.root(p).addEventListener('dazdm:reply', (e) => "
        "window.__replies.push(e.detail.reply)); }",
        P,
    )
    page.click(f"#{P} .dazdm-bands-suggest")
    settled(page)
    replies = page.evaluate("() => window.__replies")
    assert [r["suggested"] for r in replies][:1] == [True]  # the request that asked (later ones only keep them)
    page.wait_for_function("(sel) => document.querySelectorAll(sel).length === 2", arg=ROWS)
    bands = plan(page)
    assert len(bands["splits"]) == 1 and 210 < bands["splits"][0] < 330  # the auto cutoff leaves out the backdrop
    assert [b["region"] for b in bands["bands"]] == [0, 1]
    assert page.inner_text(f"#{P} .dazdm-bands-total") == "levels 256 / 256"
    # the rows' limits are the server's, read from the panel (data-total-levels, data-max-region)
    assert page.get_attribute(f"{ROWS} >> nth=0 >> .dazdm-band-levels", "max") == str(TOTAL_LEVELS)
    assert page.get_attribute(f"{ROWS} >> nth=0 >> .dazdm-band-region", "max") == str(MAX_REGION)
    shares = page.locator(f"{ROWS} .dazdm-band-share").all_inner_texts()
    assert all(text.endswith("%") for text in shares)
    drawn = json.loads(page.get_attribute(f"#{P} .dazdm-histo-canvas", "data-splits"))
    assert drawn == bands["splits"]  # the split line is on the histogram
    page.screenshot(path=str(artifacts / "bands_suggested.png"))


def test_ctrl_click_adds_a_split_drag_moves_it_the_row_removes_it(page, artifacts: Path):
    x, y = histogram_x(page, 300.0)
    page.keyboard.down("Control")
    page.mouse.click(x, y)
    page.keyboard.up("Control")
    page.wait_for_function("(sel) => document.querySelectorAll(sel).length === 3", arg=ROWS)
    reply = settled(page)
    assert reply["bands"]["splits"][1] == pytest.approx(300.0, abs=per_pixel(page) + 0.5)
    assert sum(b["levels"] for b in reply["bands"]["bands"]) == 256
    page.screenshot(path=str(artifacts / "bands_added.png"))
    # drag the new line to 320
    start = histogram_x(page, plan(page)["splits"][1])
    end = histogram_x(page, 320.0)
    page.mouse.move(*start)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(start[0] + (end[0] - start[0]) * step / 10, start[1])
        page.wait_for_timeout(16)
    page.mouse.up()
    reply = settled(page)
    assert reply["bands"]["splits"][1] == pytest.approx(320.0, abs=per_pixel(page) + 0.5)
    assert reply["far"] == pytest.approx(393.45, abs=0.01)  # the far cutoff did not move
    # the middle band's remove button merges it into the band behind
    page.locator(f"{ROWS} .dazdm-band-remove").nth(1).click()
    page.wait_for_function("(sel) => document.querySelectorAll(sel).length === 2", arg=ROWS)
    assert len(settled(page)["bands"]["splits"]) == 1


def test_typed_levels_lock_the_band_and_the_preview_follows(page, truth):
    levels = page.locator(f"{ROWS} .dazdm-band-levels").first
    levels.fill("200")
    reply = settled(page)
    bands = reply["bands"]["bands"]
    assert [b["levels"] for b in bands] == [200, 56] and bands[0]["locked"] is True
    assert page.locator(f"{ROWS} .dazdm-band-lock").first.is_checked()
    grey = picture(page)[..., 0]
    shown = page.evaluate("(p) => dazDepthmap.viewOf(p)", P)
    rows, cols = preview_indices(*truth.shape)  # the full-resolution pixels the preview shows
    assert grey.shape == (len(rows), len(cols))
    depth = truth[np.ix_(rows, cols)]
    near = depth < reply["bands"]["splits"][0]
    assert shown["key"] == "two_figures_depth.exr" and grey[near].min() >= 56 and grey[~near].max() <= 55


def test_test_colours_and_region_previews(page, artifacts: Path):
    page.click(f"#{P}_look label:has-text('Test colours')")
    page.wait_for_function(
        "(sel) => document.querySelector(sel).textContent.includes('Test colours')",
        arg=f"#{P}_preview_depth [data-testid=block-label]",
    )
    page.wait_for_timeout(300)
    test = picture(page)
    assert not (test[..., 0] == test[..., 1]).all()  # coloured, not grey
    page.screenshot(path=str(artifacts / "bands_test_colours.png"))
    page.click(f"#{P}_look label:has-text('Region map')")
    page.wait_for_function(
        "(sel) => document.querySelector(sel).textContent.includes('Regional Prompter')",
        arg=f"#{P}_preview_depth [data-testid=block-label]",
    )
    page.wait_for_timeout(300)
    regions = picture(page)
    colours = {tuple(int(v) for v in c) for c in np.unique(regions.reshape(-1, 3), axis=0)}
    assert colours == {(0, 0, 0), region_colour(0), region_colour(1)}  # exact, no blended edge
    page.screenshot(path=str(artifacts / "bands_regions.png"))
    page.click(f"#{P}_look label:has-text('Depth map')")


def test_save_writes_the_region_map_at_the_size_asked(page, app, png_reader):
    page.fill(f"#{P} .dazdm-bands-size", "512x640")
    page.press(f"#{P} .dazdm-bands-size", "Enter")
    page.locator(f"#{P} .dazdm-bands-size").blur()
    assert settled(page)["bands"]["region_size"] == [512, 640]
    page.click(f"#{P}_save")
    page.wait_for_selector(f"#{P}_regions_file a", timeout=30_000)
    regions = png_reader(app.out_dir / "two_figures_depth.regions.png")[..., ::-1]
    assert regions.shape == (640, 512, 3)
    colours = {tuple(int(v) for v in c) for c in np.unique(regions.reshape(-1, 3), axis=0)}
    assert colours == {(0, 0, 0), region_colour(0), region_colour(1)}
    page.fill(f"#{P} .dazdm-bands-size", "big")
    page.locator(f"#{P} .dazdm-bands-size").blur()
    assert "region map size: type WIDTHxHEIGHT" in page.inner_text(f"#{P} .dazdm-bands-problem")


def test_recipe_export_and_import(page, app, tmp_path: Path):
    page.click(f"#{P}_batch_box .label-wrap")  # the accordion that holds the recipe's buttons
    page.click(f"#{P}_export_recipe")
    page.wait_for_selector(f"#{P}_recipe_file a", timeout=30_000)
    exported = json.loads((app.out_dir / "two_figures_depth.recipe.json").read_text())
    assert [b["levels"] for b in exported["bands"]] == [200, 56]
    changed = {**exported, "bands": [{**exported["bands"][0], "levels": 100}, {**exported["bands"][1], "levels": 156}]}
    upload = tmp_path / "other levels.json"
    upload.write_text(json.dumps(changed))
    page.set_input_files(f"#{P} .dazdm-recipe input[type=file]", str(upload))
    page.wait_for_function(
        "(sel) => document.querySelector(sel + ' .dazdm-band-levels').value === '100'", arg=ROWS, timeout=30_000
    )
    assert page.input_value(f"#{P} .dazdm-bands-mode") == "manual"
    assert "Mapped with the recipe other levels.json" in page.inner_text(f"#{P}_status")
    assert [b["levels"] for b in plan(page)["bands"]] == [100, 156]  # the server's view of the imported plan


def test_suggest_bands_says_when_it_finds_no_gap(page, tmp_path: Path):
    """A depth that runs on without a gap (a ramp): Suggest bands leaves one band and says why, not nothing."""
    from tests.synthetic import write_depth_exr

    ramp = tmp_path / "ramp.exr"
    write_depth_exr(ramp, np.tile(np.linspace(100.0, 900.0, 256, dtype=np.float32), (128, 1)))
    page.set_input_files(f"#{P}_upload input[type=file]", str(ramp))
    page.wait_for_function("(p) => (dazDepthmap.viewOf(p) || {}).nearest === 100", arg=P, timeout=30_000)
    settled(page)
    page.evaluate(
        "(p) => { window.__replies = []; dazDepthmap.root(p).addEventListener('dazdm:reply', (e) => "
        "window.__replies.push(e.detail.reply)); }",
        P,
    )
    page.click(f"#{P} .dazdm-bands-suggest")
    settled(page)
    asked = page.evaluate("() => window.__replies.find((r) => r.suggested)")
    assert asked is not None and asked["suggest_note"].startswith("No gaps found"), asked
    assert len(plan(page)["bands"]) == 1
    page.wait_for_function(
        "(sel) => document.querySelector(sel).textContent.startsWith('No gaps found')",
        arg=f"#{P} .dazdm-bands-problem",
        timeout=10_000,
    )
    assert "Ctrl+click the histogram to split" in page.inner_text(f"#{P} .dazdm-bands-problem")
