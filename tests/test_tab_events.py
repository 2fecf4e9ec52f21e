"""The tab built in-process: its wiring, its handlers called the way gradio calls them, and the standalone page."""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from daz_depthmap import app as standalone
from daz_depthmap.bands.plan import MAX_REGION, TOTAL_LEVELS
from daz_depthmap.params import DepthParams
from daz_depthmap.session.store import SessionStore
from daz_depthmap.session.workspace import Workspace
from daz_depthmap.tab.compat import js, listeners
from daz_depthmap.tab.contract import TabContext, TabHandles
from daz_depthmap.tab.wiring import build_tab, session_store
from tests.synthetic import daz_like_depth

F32 = "synthetic_daz_Y_f32_zip_1200.exr"
P = "dzt"


# --------------------------------------------------------------------------------------------------------------
# Calling the tab's events as gradio does


class Tab:
    """A built tab and a way to run its events in-process; results are keyed by elem_id suffix, the session's
    token is kept as gradio keeps it in the page's ``gr.State``."""

    def __init__(self, blocks: gr.Blocks, ctx: TabContext) -> None:
        self.blocks = blocks
        self.ctx = ctx
        self.session: object = None

    @property
    def sessions(self) -> SessionStore:
        assert self.ctx.sessions is not None
        return self.ctx.sessions

    @property
    def ws(self) -> Workspace:
        """The workspace the page's token opens."""
        found = self.sessions.get(self.session)
        assert found is not None, "the page has no session"
        return found.workspace

    def component(self, name: str) -> object:
        return next(b for b in self.blocks.blocks.values() if getattr(b, "elem_id", None) == f"{P}_{name}")

    def handler(self, name: str, trigger: str):
        component = self.component(name) if name else None  # the page's load event has no component
        for listener in listeners(self.blocks):
            if listener.starts_on(component, trigger):
                return listener.fn
        raise AssertionError(f"no {trigger} event on {name!r}")

    def run(self, name: str, trigger: str, *args: object, **kwargs: object) -> dict[str, object]:
        result = self.handler(name, trigger)(*args, **kwargs)
        out = {}
        for component, value in result.items():
            if isinstance(component, gr.State):
                self.session = value
                out["session"] = value
            else:
                out[component.elem_id.removeprefix(f"{P}_")] = value
        return out

    def upload(self, *paths: Path, names: tuple[str, ...] = ()) -> dict[str, object]:
        """Upload copies of ``paths`` (the tab takes ownership of what it is given, as of gradio's temp files)."""
        files = []
        for path, name in zip(paths, names or [p.name for p in paths], strict=True):
            copy = Path(tempfile.mkdtemp(prefix="dazdm-test-upload-")) / name
            shutil.copyfile(path, copy)
            files.append(SimpleNamespace(name=str(copy), orig_name=name))
        return self.run("upload", "upload", self.session, files)

    def live(self, **request: object) -> dict:
        """A live request; ``key`` and ``view`` default to the file view shown."""
        shown = self.ws.shown() if self.sessions.get(self.session) else None
        if shown is not None:
            request = {"key": shown.file.key, "view": shown.view, **request}
        out = self.run("live_request", "input", self.session, json.dumps(request))
        return {**out, "reply": json.loads(out["live_done"])}


def _plain(markdown: str) -> str:
    """A status line's text without the Markdown escapes."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _value(update: object) -> object:
    return update["value"] if isinstance(update, dict) and "__type__" in update else update


@pytest.fixture
def tab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tab]:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio-cache"))  # its download copies, read when built
    ctx = _with_store(
        TabContext(output_dir=tmp_path / "outputs", defaults=DepthParams(depth_cutoff="auto"), elem_prefix=P)
    )
    yield Tab(build_tab(ctx), ctx)
    ctx.sessions.close()


def _with_store(ctx: TabContext) -> TabContext:
    return replace(ctx, sessions=session_store(ctx))


@pytest.fixture
def loaded(tab: Tab, shared_exr_dir: Path) -> Tab:
    out = tab.upload(shared_exr_dir / F32)
    assert isinstance(tab.session, str) and out["files"]["value"] == F32
    return tab


def _broken_exr(tmp_path: Path) -> Path:
    import cv2

    path = tmp_path / "broken.exr"
    path.write_bytes(cv2.imencode(".png", np.zeros((4, 4), np.uint8))[1].tobytes())
    return path


# --------------------------------------------------------------------------------------------------------------
# Building


def test_every_element_id_carries_the_prefix_and_the_root_has_it_alone(tab: Tab):
    ids = [b.elem_id for b in tab.blocks.blocks.values() if getattr(b, "elem_id", None)]
    assert ids and all(i == P or i.startswith(f"{P}_") for i in ids)
    root = next(b for b in tab.blocks.blocks.values() if getattr(b, "elem_id", None) == P)
    assert "dazdm-root" in root.elem_classes
    assert len(ids) == len(set(ids))


def test_the_host_gets_the_session_the_status_line_and_the_store(tmp_path: Path, shared_exr_dir: Path):
    seen: list[TabHandles] = []
    ctx = _with_store(TabContext(output_dir=tmp_path, elem_prefix=P, add_controls=seen.append))
    tab = Tab(build_tab(ctx), ctx)
    (handles,) = seen
    assert isinstance(handles.session, gr.State) and isinstance(handles.status, gr.Markdown)
    assert handles.status.elem_id == f"{P}_status" and handles.sessions is ctx.sessions
    tab.upload(shared_exr_dir / F32)
    assert handles.sessions.get(tab.session).workspace.keys == [F32]


def test_gradio_finds_the_click_position_and_the_progress_bar_parameters(tab: Tab):
    from gradio.helpers import special_args

    data = gr.SelectData(None, {"index": [1, 2], "value": None})
    inputs, _, event_index = special_args(tab.handler("preview_depth", "select"), [None], None, data)
    assert event_index == 1 and isinstance(inputs[1], gr.SelectData) and inputs[1].index == [1, 2]
    _, progress_index, _ = special_args(tab.handler("process_all", "click"), [None, None], None, None)
    assert progress_index == 2  # after the session token and how to process


def test_client_functions_use_the_keyword_of_this_gradio():
    (keyword,) = js("() => 1")
    assert keyword == ("_js" if gr.__version__.startswith("3.") else "js")
    with gr.Blocks():
        listener = gr.Button().click
    assert keyword in inspect.signature(listener).parameters


def test_a_page_load_shows_the_command_line_files_in_a_session_of_its_own(tmp_path: Path, shared_exr_dir: Path):
    ctx = _with_store(TabContext(output_dir=tmp_path, elem_prefix=P))
    tab = Tab(build_tab(ctx, initial_files=[shared_exr_dir / F32, tmp_path / "gone.exr"]), ctx)
    first = tab.run("", "load", None)
    second = tab.run("", "load", None)
    assert first["session"] != second["session"]
    workspaces = [ctx.sessions.get(out["session"]).workspace for out in (first, second)]
    assert workspaces[0] is not workspaces[1] and workspaces[0].keys == [F32] == workspaces[1].keys
    assert (shared_exr_dir / F32).is_file(), "a command-line file is read, never taken over"
    assert "gone.exr" in first["status"] and "not found" in first["status"]
    assert isinstance(first["preview_depth"], np.ndarray)


def test_without_files_to_show_there_is_no_page_load_event_and_the_tab_starts_empty(tab: Tab):
    # a page-load event answering after the upload of a file dropped at once replaced that upload's session
    assert not [event for event in listeners(tab.blocks) if event.starts_on(None, "load")]
    for name in ("cutoff", "near", "channel", "remove"):
        assert tab.component(name).interactive is False, name
    assert tab.component("files").choices == [] and tab.component("preview_depth").value is None


def test_the_upload_box_is_an_output_of_its_own_event_only(tab: Tab, tmp_path: Path, shared_exr_dir: Path):
    # gradio 3 drops the upload event of a box that is the output of a pending event: the file was lost
    other = build_tab(_with_store(TabContext(output_dir=tmp_path, elem_prefix=P)), [shared_exr_dir / F32])
    for blocks in (tab.blocks, other):
        upload = next(b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == f"{P}_upload")._id
        owners = [event.targets for event in listeners(blocks) if upload in event.outputs]
        assert owners == [((upload, "upload"),)]


# --------------------------------------------------------------------------------------------------------------
# Handlers


def test_upload_loads_good_files_and_names_the_bad_ones(tab: Tab, shared_exr_dir: Path, tmp_path: Path):
    out = tab.upload(shared_exr_dir / F32, _broken_exr(tmp_path))
    assert out["files"]["choices"] == [F32] and out["files"]["value"] == F32
    assert "broken.exr" in out["status"] and "not an OpenEXR file" in out["status"]
    assert "Traceback" not in out["status"]
    assert "1200 × 1200 px" in out["info"]
    data = json.loads(out["histogram_data"])
    assert data["key"] == F32 and data["suggestion"] is not None
    assert out["cutoff"]["maximum"] >= data["farthest"] and out["cutoff"]["value"] == pytest.approx(data["far"])
    preview = out["preview_depth"]
    assert isinstance(preview, np.ndarray) and max(preview.shape) <= 1024
    assert out["upload"] is None  # the drop zone is ready for more files
    # a second upload adds to the list and shows the new file; the first keeps its place
    again = tab.upload(shared_exr_dir / F32, names=("copy.exr",))
    assert again["files"]["choices"] == [F32, "copy.exr"] and again["files"]["value"] == "copy.exr"


def test_live_requests_render_the_sent_cutoffs_and_answer_with_their_number(loaded: Tab):
    first = loaded.live(seq=4, far=290.0, near=None)
    second = loaded.live(seq=5, far=230.0, near=None)
    assert first["reply"]["seq"] == 4 and second["reply"]["seq"] == 5 and second["reply"]["error"] is None
    assert second["reply"]["far"] == 230.0 and second["reply"]["clipped_far"] > first["reply"]["clipped_far"]
    assert np.count_nonzero(second["preview_depth"]) < np.count_nonzero(first["preview_depth"])
    assert loaded.ws.require_shown().params.depth_cutoff == 230.0


def test_a_live_request_that_contradicts_itself_answers_with_a_message(loaded: Tab):
    out = loaded.live(seq=1, far=230.0, near=250.0)
    assert "near cutoff" in out["reply"]["error"] and "preview_depth" not in out
    assert loaded.run("live_request", "input", loaded.session, "not json") == {}


def test_a_refused_live_cutoff_is_answered_with_the_cutoffs_still_in_use(loaded: Tab):
    far = loaded.live(seq=1, far=260.0, near=200.0)["reply"]["far"]
    reply = loaded.live(seq=2, far=260.0, near=400.0)["reply"]
    assert "near cutoff" in reply["error"] and reply["seq"] == 2
    assert (reply["key"], reply["far"], reply["near"]) == (F32, far, 200.0)  # the page puts these back
    assert loaded.ws.require_shown().params.near_cutoff == 200.0


def test_a_live_request_before_any_file_answers_with_a_message(tab: Tab):
    reply = tab.live(seq=1, far=2.0, near=None)["reply"]
    assert "no file loaded" in reply["error"]


def test_the_mask_preview_shows_only_when_the_mask_option_is_on(loaded: Tab):
    args = [True, False, 7, "8-bit"]  # mask, noise, seed, bits
    on = loaded.run("mask", "input", loaded.session, False, *args)
    assert on["preview_mask"]["visible"] is True
    mask = on["preview_mask"]["value"]
    assert set(np.unique(mask)) <= {0, 255} and mask[0, 0] == 0 and mask[384, 384] == 255
    off = loaded.run("mask", "input", loaded.session, False, False, False, 7, "8-bit")
    assert off["preview_mask"]["visible"] is False and "value" not in off["preview_mask"]
    noisy = loaded.run("noise", "input", loaded.session, False, False, True, 7, "16-bit")
    assert noisy["preview_depth"][:20, :20].max() > 0  # noise in the far plane
    assert loaded.ws.require_shown().params.bits == 16 and loaded.ws.require_shown().params.seed == 7


def test_invert_resets_the_cutoffs_and_redraws_everything(loaded: Tab):
    loaded.live(seq=1, far=240.0, near=None)
    out = loaded.run("invert", "input", loaded.session, True)
    params = loaded.ws.require_shown().params
    assert params.invert and params.depth_cutoff is None
    assert json.loads(out["histogram_data"])["invert"] is True


def test_clicking_the_preview_reads_the_depth_there(loaded: Tab):
    centre = gr.SelectData(None, {"index": [384, 384], "value": None})
    out = loaded.run("preview_depth", "select", loaded.session, centre)
    assert re.search(r"Pixel \(600, 600\): depth 19\d\.\d+", out["pick"])
    assert out["picked"] == pytest.approx(loaded.ws.pick(384, 384).depth)
    assert out["pick_far"]["visible"] is True
    corner = loaded.run("preview_mask", "select", loaded.session, gr.SelectData(None, {"index": [0, 0], "value": None}))
    assert "Pixel (0, 0)" in corner["pick"]


def test_save_writes_full_resolution_pngs_and_offers_them_for_download(loaded: Tab, png_reader):
    loaded.run("mask", "input", loaded.session, False, True, False, 1, "8-bit")
    out = loaded.run("save", "click", loaded.session)
    depth_path, mask_path = Path(out["depth_file"]["value"]), Path(out["mask_file"]["value"])
    assert out["mask_file"]["visible"] is True
    assert png_reader(depth_path).shape == (1200, 1200) and png_reader(mask_path).max() == 255
    assert "Wrote" in out["status"]
    for offered in (depth_path, mask_path):  # a copy of the saved file, only this page knows where
        saved = loaded.ctx.output_dir / offered.name
        assert (
            offered.parent.parent == Path(os.environ["GRADIO_TEMP_DIR"]) and saved.read_bytes() == offered.read_bytes()
        )


def test_process_all_writes_every_file_with_its_options_and_reports_progress(loaded: Tab, shared_exr_dir, png_reader):
    loaded.upload(shared_exr_dir / "synthetic_daz_Y_half_zip_1200.exr")
    loaded.live(seq=1, far=250.0, near=None)
    loaded.run("bits", "input", loaded.session, False, False, False, 1, "16-bit")
    steps: list[tuple[float, str]] = []
    how = "each file with its own settings"
    out = loaded.run("process_all", "click", loaded.session, how, lambda share, desc="": steps.append((share, desc)))
    files = sorted(p.name for p in loaded.ctx.output_dir.glob("*.png"))
    assert files == ["synthetic_daz_Y_f32_zip_1200.depth.png", "synthetic_daz_Y_half_zip_1200.depth.png"]
    assert png_reader(loaded.ctx.output_dir / files[1]).dtype == np.uint16  # its own 16-bit option
    assert png_reader(loaded.ctx.output_dir / files[0]).dtype == np.uint8
    assert [s for s, _ in steps] == [0.0, 0.5, 1.0] and "2 of 2 files" in out["status"]


def test_a_file_without_a_depth_channel_loads_on_r_and_says_how_to_choose(tab: Tab, shared_exr_dir: Path):
    name = "exrs_f32_rle_RGBA.exr"
    out = tab.upload(shared_exr_dir / name)
    assert out["files"]["value"] == name
    hint = "no depth channel recognised; showing R — pick the depth channel in the Channel menu"
    assert f"⚠ {name}: {hint}" in _plain(out["status"]) and hint in out["info"]
    assert out["channel"]["value"] == "R" and out["channel"]["interactive"] is True
    assert set(out["channel"]["choices"]) == {"A", "B", "G", "R"}
    changed = tab.run("channel", "input", tab.session, "G")
    assert changed["channel"]["value"] == "G" and hint not in changed["info"]


def test_a_failed_channel_switch_shows_the_channel_still_in_use(
    tab: Tab, tmp_path: Path, exr_writer, exr_part, png_reader
):
    depth = daz_like_depth(64, 48)
    path = exr_writer(tmp_path / "two.exr", exr_part({"Z": depth, "empty": np.full_like(depth, np.inf)}))
    assert tab.upload(path)["channel"]["value"] == "Z"
    out = tab.run("channel", "input", tab.session, "empty")
    assert "no valid depth" in out["status"] and "two.exr" in out["status"]
    assert out["channel"]["value"] == "Z" and "channel Z" in out["info"]  # the dropdown goes back
    assert tab.ws.require_shown().file.channel == "Z"
    saved = tab.run("save", "click", tab.session)
    assert png_reader(saved["depth_file"]["value"]).shape == (64, 48)


def test_inverted_input_is_offered_its_suggested_cutoff(loaded: Tab):
    out = loaded.run("invert", "input", loaded.session, True)
    data = json.loads(out["histogram_data"])
    assert data["invert"] is True and data["suggestion"] is not None
    entry = loaded.ws.require_shown().file
    assert data["suggestion"] == pytest.approx(entry.suggestions[True].cutoff, abs=entry.step / 10)
    assert data["suggestion"] != pytest.approx(entry.suggestions[False].cutoff, abs=1)


def test_option_changes_leave_the_status_line_alone_and_show_no_progress_overlay(loaded: Tab):
    saved = loaded.run("save", "click", loaded.session)
    assert "Wrote" in saved["status"]
    for name in ("compress_map", "mask", "noise", "bits"):
        out = loaded.run(name, "input", loaded.session, False, False, False, 3, "8-bit")
        assert "status" not in out and isinstance(out["preview_depth"], np.ndarray)
    status_id = loaded.component("status")._id
    option_ids = {loaded.component(n)._id for n in ("compress_map", "mask", "noise", "bits", "seed")}
    events = [e for e in listeners(loaded.blocks) if {target for target, _ in e.targets} & option_ids]
    assert len(events) == 6 and all(status_id in e.outputs for e in events)  # errors still go there
    assert {e.show_progress for e in events} == {"hidden"}


def test_saving_after_the_upload_is_gone_says_to_upload_again(tab: Tab, shared_exr_dir: Path, tmp_path: Path):
    tab.upload(shared_exr_dir / F32)
    tab.ws.require_shown().file.source.unlink()  # the session's own copy of the upload
    live = tab.live(seq=1, far=250.0, near=None)
    assert live["reply"]["error"] is None and isinstance(live["preview_depth"], np.ndarray)  # previews still work
    out = tab.run("save", "click", tab.session)
    assert list(out) == ["status"]
    assert _plain(out["status"]) == f"⚠ {F32}: the uploaded file is no longer available; upload it again"
    assert not list(tab.ctx.output_dir.glob("*.png"))


def test_choosing_a_channel_reads_the_file_again_with_it(tab: Tab, shared_exr_dir: Path):
    out = tab.upload(shared_exr_dir / "oei_Beachball_singlepart_0001.exr")
    assert out["channel"]["value"] == "Z" and "left.Z" in out["channel"]["choices"]
    assert out["channel"]["interactive"] is True
    changed = tab.run("channel", "input", tab.session, "left.Z")
    assert changed["channel"]["value"] == "left.Z" and "channel left.Z" in changed["info"]


def test_switching_files_shows_each_with_its_own_settings(loaded: Tab, shared_exr_dir: Path):
    half = "synthetic_daz_Y_half_zip_1200.exr"
    loaded.upload(shared_exr_dir / half)
    loaded.live(seq=1, far=260.0, near=None)
    back = loaded.run("files", "input", loaded.session, F32)
    assert back["cutoff"]["value"] != 260.0 and json.loads(back["histogram_data"])["key"] == F32
    again = loaded.run("files", "input", loaded.session, half)
    assert again["cutoff"]["value"] == pytest.approx(260.0)
    removed = loaded.run("remove", "click", loaded.session)
    assert removed["files"]["choices"] == [F32] and "Removed" in removed["status"]


def test_problems_become_messages_never_exceptions(loaded: Tab, monkeypatch: pytest.MonkeyPatch):
    out = loaded.run("files", "input", loaded.session, "not-loaded.exr")
    assert out == {"status": "⚠ no loaded file is called 'not-loaded.exr'"}

    def explode(self: object, *args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("daz_depthmap.session.loaded.LoadedFile.render_preview", explode)
    out = loaded.run("compress_map", "input", loaded.session, True, False, False, 1, "8-bit")
    assert out == {"status": "⚠ unexpected error (RuntimeError: disk on fire)"}
    reply = loaded.live(seq=9, far=250.0, near=None)["reply"]
    assert reply["seq"] == 9 and "disk on fire" in reply["error"]
    nothing = Tab(loaded.blocks, loaded.ctx)
    assert "no file loaded" in nothing.run("save", "click", None)["status"]


# --------------------------------------------------------------------------------------------------------------
# The standalone page and the client files


def test_the_standalone_page_carries_our_scripts_and_styles_and_other_apps_do_not():
    from fastapi.testclient import TestClient

    head, tail = standalone.page_additions()
    scripts, styles = standalone.client_files()
    assert {p.name for p in scripts} >= {
        "daz_depthmap_base.js",
        "daz_depthmap_histogram_draw.js",
        "daz_depthmap_histogram_input.js",
        "daz_depthmap_histogram_model.js",
        "daz_depthmap_live.js",
    }
    assert all(f"sourceURL={p.name}" in head for p in scripts) and styles and "#daz_depthmap" in tail
    ours = standalone.build_app()
    with gr.Blocks() as other:
        gr.Markdown("other")
    restore = standalone.inject_client_files(ours, head, tail)
    try:
        page = TestClient(gr.routes.App.create_app(ours)).get("/").text
        plain = TestClient(gr.routes.App.create_app(other)).get("/").text
    finally:
        restore()
    assert page.index("daz_depthmap_base.js") < page.index("</head>") and "#daz_depthmap" in page
    assert "sourceURL" not in plain and "#daz_depthmap" not in plain
    assert "sourceURL" not in TestClient(gr.routes.App.create_app(ours)).get("/").text  # restored


def test_the_command_line_has_the_documented_options():
    args = standalone.build_parser().parse_args(["--port", "7999", "--out-dir", "x", "--host", "0.0.0.0", "a.exr"])
    assert (args.port, args.out_dir, args.host, args.files) == (7999, Path("x"), "0.0.0.0", ["a.exr"])


def test_every_style_rule_is_scoped_under_the_tab_root():
    css = (standalone.EXTENSION_ROOT / "style.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    selectors = re.findall(r"([^{}]+)\{", css)
    assert selectors
    for group in selectors:
        for selector in group.split(","):
            if selector.strip() == STICKY_CONTAINER:
                continue
            assert selector.strip().startswith("#daz_depthmap"), selector


#: The one rule outside the tab root: gradio's container (only one that holds the tab) clips instead of hiding its
#: overflow, so it is no scroll box and the result column can stick in the window (same look: both cut the overflow).
STICKY_CONTAINER = ".gradio-container:has(#daz_depthmap .dazdm-result)"


def test_the_rule_outside_the_tab_root_only_clips():
    css = (standalone.EXTENSION_ROOT / "style.css").read_text(encoding="utf-8")
    body = re.search(re.escape(STICKY_CONTAINER) + r"\s*\{([^}]*)\}", css)
    assert body and [line.strip() for line in body.group(1).strip().splitlines()] == ["overflow: clip;"]


def _client_scripts() -> list[tuple[str, str, str]]:
    """Each client script's name, text, and code (the text without its comments)."""
    out = []
    for path in sorted((standalone.EXTENSION_ROOT / "javascript").glob("daz_depthmap_*.js")):
        text = path.read_text(encoding="utf-8")
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        code = re.sub(r"^\s*//.*$", "", code, flags=re.M).strip()
        out.append((path.name, text, code))
    assert len(out) >= 9
    return out


#: Assignments to a global: ``window.NAME =`` (also ``||=``, ``??=``, ``&&=``), ``globalThis.NAME =``,
#: ``self.NAME =``, and ``Object.defineProperty(window, ...)``.
_GLOBAL_SET = re.compile(
    r"\b(?:window|globalThis|self)\s*\.\s*([A-Za-z_$][\w$]*)\s*(?:\|\||\?\?|&&)?=(?!=)"
    r"|\b(?:window|globalThis|self)\s*\[[^\]]*\]\s*(?:\|\||\?\?|&&)?=(?!=)"
    r"|Object\.definePropert(?:y|ies)\(\s*(?:window|globalThis|self)\b"
)


def _globals_set(code: str) -> set[str]:
    return {match.group(1) or match.group(0) for match in _GLOBAL_SET.finditer(code)}


def test_the_global_check_catches_other_globals():
    assert _globals_set("window.dazDepthmapSend = {") == {"dazDepthmapSend"}
    assert _globals_set("const ns = (window.dazDepthmap = window.dazDepthmap || {});") == {"dazDepthmap"}
    assert _globals_set("window.x ||= 1; globalThis.y = 2; if (window.z === 3) {}") == {"x", "y"}
    assert _globals_set("window['q'] = 1; Object.defineProperty(window, 'r', {})") != set()


def test_client_scripts_define_no_globals_but_their_namespace():
    for name, _, code in _client_scripts():
        assert code.startswith("(function () {") and code.endswith("})();"), name
        assert '"use strict";' in code, name
        assert "window.dazDepthmap = window.dazDepthmap || {}" in code, name
        assert _globals_set(code) == {"dazDepthmap"}, (name, _globals_set(code))


def test_client_scripts_hold_no_copies_of_the_servers_band_limits(tab: Tab):
    """The most levels (256) and the highest region number (359) come from the page: the band panel's element
    carries them (data-total-levels, data-max-region), written from the server's constants."""
    for name, text, _ in _client_scripts():
        assert not re.search(r"(?<![\w.])(?:256|359)(?![\w.])", text), name
    panel = str(_value(tab.component("bands").value))
    assert re.search(rf'<div class="dazdm-bands"[^>]*\sdata-total-levels="{TOTAL_LEVELS}"', panel)
    assert re.search(rf'<div class="dazdm-bands"[^>]*\sdata-max-region="{MAX_REGION}"', panel)


def test_client_files_talk_through_events_not_each_others_functions():
    """One concern per file: the histogram, the live path and the drawing never call each other's functions (the
    accessors a file publishes are for tests and tools)."""
    owners = {
        "live": "daz_depthmap_live.js",
        "bandPanel": "daz_depthmap_bands.js",
        "histogramDraw": "daz_depthmap_histogram_draw.js",
        "send": "daz_depthmap_send.js",
    }
    for name, _, code in _client_scripts():
        for api, owner in owners.items():
            if name not in (owner, "daz_depthmap_base.js"):
                assert f"ns.{api}." not in code and f"dazDepthmap.{api}." not in code, (name, api)
        assert "dazDepthmap.histogram." not in code, name


def test_each_piece_of_a_tabs_state_has_one_owner():
    """No shared per-tab bag: each file keeps its state to itself, and others learn it from the documented events
    (the file view also through base's read-only dazDepthmap.viewOf)."""
    scripts = {name: (text, code) for name, text, code in _client_scripts()}
    for name, (_, code) in scripts.items():
        assert "stateOf" not in code and "ns.state" not in code and "dazDepthmap.state" not in code, name
        if name != "daz_depthmap_bands.js":  # the band plan and the Add split mode: the panel's
            assert "bandState" not in code and ".addMode" not in code, name
        if name != "daz_depthmap_live.js":  # the live requests: the live path's
            assert "liveState" not in code and ".dirty" not in code and ".inFlight" not in code, name
    header = scripts["daz_depthmap_base.js"][0].split("*/", 1)[0]
    used = set()
    for _, code in scripts.values():
        used |= set(re.findall(r'"(dazdm:[\w-]+)"', code))
    assert "dazdm:add-mode" in used
    for event in used:
        assert f" {event} " in header, f"{event} is not in the list of events (daz_depthmap_base.js)"


# --------------------------------------------------------------------------------------------------------------
# The live path across views, and the sessions' files


def test_a_live_request_made_for_another_file_changes_nothing(loaded: Tab, shared_exr_dir: Path):
    """A request on its way when the page switched files used to set the new file's cutoff."""
    half = "synthetic_daz_Y_half_zip_1200.exr"
    old = loaded.ws.require_shown()
    loaded.upload(shared_exr_dir / half)  # the page now shows the second file, in a new view
    before = loaded.ws.params(half)
    out = loaded.live(seq=3, key=old.file.key, view=old.view, far=230.0, near=None)
    assert out["reply"]["stale"] is True and out["reply"]["seq"] == 3 and out["reply"]["error"] is None
    assert "preview_depth" not in out  # nothing rendered
    assert loaded.ws.params(half) == before and loaded.ws.params(F32) == old.params


def test_an_upload_is_kept_once_by_the_session_and_gradios_copies_go(tab: Tab, shared_exr_dir: Path, tmp_path: Path):
    """gradio 3 keeps two copies of every upload (and an empty temp file) and deletes none of them."""
    cached = tmp_path / "gradio" / "0a1b" / "scene.exr"  # File.preprocess's copy: what the handler gets
    routed = tmp_path / "gradio" / "9f8e" / "scene.exr"  # the /upload route's copy: orig_name
    held = tmp_path / "gradio" / "tmpabc123"  # the empty file the wrapper holds open
    for path in (cached, routed, held):
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_exr_dir / F32, path) if path is not held else path.write_bytes(b"")
    wrapper = SimpleNamespace(
        name=str(cached), orig_name=str(routed), file=SimpleNamespace(name=str(held)), close=lambda: None
    )
    out = tab.run("upload", "upload", None, [wrapper])
    assert out["files"]["value"] == "scene.exr"
    assert not cached.exists() and not routed.exists() and not held.exists()
    owned = tab.ws.require_shown().file.source
    assert owned.is_file() and owned.parent.name == tab.session  # one copy, in the session's own folder
    assert tab.sessions.upload_bytes() == owned.stat().st_size
    tab.run("remove", "click", tab.session)
    assert not owned.exists() and tab.sessions.upload_bytes() == 0


def test_a_page_whose_session_was_evicted_is_told_to_drop_its_files_again(loaded: Tab):
    owned = loaded.ws.require_shown().file.source
    old = loaded.session
    assert loaded.sessions.release(old, "after 61 minutes without use")
    assert not owned.exists(), "the session's uploads go with it"
    out = loaded.live(seq=1, far=250.0, near=None)  # the page still holds the old token
    assert "no file loaded" in out["reply"]["error"]
    assert (
        _plain(out["status"]) == "⚠ The files of this page were released after 61 minutes without use; drop them again."
    )
    assert out["session"] != old and out["files"]["choices"] == [] and out["preview_depth"] is None  # emptied
    again = loaded.run("save", "click", loaded.session)
    assert "no file loaded" in again["status"] and "released" not in again["status"]


# --------------------------------------------------------------------------------------------------------------
# What a first-time user sees (issue 8)


def test_the_tab_says_what_it_does_and_where_outputs_go_and_offers_the_download_from_the_start(tab: Tab):
    intro = tab.component("intro").value
    assert "ControlNet depth map" in intro and str(tab.ctx.output_dir) in intro
    assert tab.component("depth_file").visible is True  # the download's place is there before the first Save


def test_the_seed_shows_with_noise_and_is_the_one_the_preview_uses(loaded: Tab):
    shown = loaded.ws.require_shown()
    assert loaded.component("seed").visible is False
    view = loaded.run("files", "input", loaded.session, F32)
    assert view["seed"]["visible"] is False and view["seed"]["value"] == shown.params.seed
    on = loaded.run("noise", "input", loaded.session, False, False, True, shown.params.seed, "8-bit")
    assert on["seed"]["visible"] is True and "value" not in on["seed"]
    emptied = loaded.run("seed", "submit", loaded.session, False, False, True, None, "8-bit")
    drawn = emptied["seed"]["value"]
    assert isinstance(drawn, int) and loaded.ws.require_shown().params.seed == drawn  # new noise, still reproducible
    again = loaded.run("noise", "input", loaded.session, False, False, True, drawn, "8-bit")
    assert np.array_equal(
        again["preview_depth"],
        loaded.run("noise", "input", loaded.session, False, False, True, drawn, "8-bit")["preview_depth"],
    )


def test_warnings_of_a_multi_file_upload_can_be_read_again_after_switching(tab: Tab, shared_exr_dir, tmp_path):
    bad = _broken_exr(tmp_path)
    out = tab.upload(shared_exr_dir / F32, bad, shared_exr_dir / "exrs_f32_rle_RGBA.exr")
    assert "broken.exr" in out["status"] and "no depth channel recognised" in out["status"]
    switched = tab.run("files", "input", tab.session, F32)
    assert switched["status"] == ""  # the status line moved on...
    log = _plain(switched["log"])
    assert "broken.exr: not an OpenEXR file" in log and "exrs_f32_rle_RGBA.exr: no depth channel recognised" in log
    # newest first, as the box says: the broken file was refused while loading, the RGBA file's warning came after
    assert log.index("exrs_f32_rle_RGBA.exr: no depth channel") < log.index("broken.exr: not an OpenEXR file")
    rgba = tab.run("files", "input", tab.session, "exrs_f32_rle_RGBA.exr")
    assert "no depth channel recognised" in rgba["info"]  # ...and the file's own warning stays in its info


def test_saving_with_a_cutoff_before_everything_says_the_map_is_black(loaded: Tab):
    loaded.live(seq=1, far=120.0, near=None)
    reply = loaded.live(seq=2, far=120.0, near=None)["reply"]
    assert "the whole map is black" in reply["warning"]
    out = loaded.run("save", "click", loaded.session)
    assert "Wrote" in out["status"] and "the whole map is black" in _plain(out["status"])


# --------------------------------------------------------------------------------------------------------------
# Bands, looks, region maps and recipes through the tab's events


@pytest.fixture
def two(tab: Tab, tmp_path: Path) -> Tab:
    from tests.synthetic import two_subject_depth, write_depth_exr

    path = tmp_path / "two.exr"
    write_depth_exr(path, two_subject_depth(300, 240, seed=2))
    tab.upload(path)
    return tab


def _page_bands(tab: Tab) -> dict:
    """The bands of the file view the page got last."""
    shown = tab.ws.require_shown()
    from daz_depthmap.session.view import file_view

    return file_view(shown)["bands"]


def test_suggested_bands_arrive_with_levels_shares_and_regions(two: Tab):
    view = _page_bands(two)
    assert view["splits"] == [] and [b["levels"] for b in view["bands"]] == [256]
    reply = two.live(seq=1, far=None, near=None, bands=view, suggest=True)["reply"]
    bands = reply["bands"]
    assert reply["error"] is None and reply["suggested"] is True
    assert len(bands["splits"]) == 2 and 210 < bands["splits"][0] < 330  # near figure | far figure | backdrop
    assert [b["region"] for b in bands["bands"]] == [0, 1, 2]
    assert sum(b["levels"] for b in bands["bands"]) == 256 == bands["total"]
    assert sum(b["share"] for b in bands["bands"]) == pytest.approx(1.0)


def test_a_band_edit_through_the_live_path_changes_the_preview(two: Tab):
    view = _page_bands(two)
    plain = two.live(seq=1, far=500.0, near=None, bands=view)["preview_depth"]
    view = {**view, "splits": [265.0], "bands": [
        {"levels": 200, "locked": True, "label": "near", "region": 0},
        {"levels": 0, "label": "far", "region": 1},
    ]}  # fmt: skip
    out = two.live(seq=2, far=500.0, near=None, bands=view)
    bands = out["reply"]["bands"]
    assert [b["levels"] for b in bands["bands"]] == [200, 56] and bands["problem"] is None
    assert not np.array_equal(out["preview_depth"], plain)
    depth = two.ws.require_shown().file.preview_depth
    assert out["preview_depth"][depth < 265].min() >= 56  # the near figure owns the top 200 levels
    bad = {**view, "mode": "manual"}
    reply = two.live(seq=3, far=500.0, near=None, bands=bad)["reply"]
    assert reply["bands"]["problem"] == "levels add up to 200 of 256: 56 left to give"
    garbage = two.live(seq=4, far=500.0, near=None, bands={**view, "splits": [265.0, 300.0]})["reply"]
    assert garbage["error"] == "the bands arrived in an unknown form; reload the page"


def test_looks_and_a_save_with_regions(two: Tab, png_reader):
    view = _page_bands(two)
    two.live(seq=1, far=500.0, near=None, bands=view, suggest=True)
    out = two.run("look", "input", two.session, "Region map")
    assert out["preview_depth"]["label"] == "Region map preview: what Regional Prompter gets"
    picture = out["preview_depth"]["value"]
    assert picture.ndim == 3 and {tuple(c) for c in np.unique(picture.reshape(-1, 3), axis=0)} == {
        (0, 0, 0), (128, 64, 64), (64, 128, 128)
    }  # fmt: skip
    out = two.run("save", "click", two.session)
    regions = Path(_value(out["regions_file"]))
    assert regions.name == "two.regions.png" and out["regions_file"]["visible"] is True
    assert png_reader(regions).shape == (300, 240, 3)
    test = two.run("look", "input", two.session, "Test colours")["preview_depth"]["value"]
    assert test.ndim == 3 and not np.array_equal(test, picture)


def test_recipe_export_then_import_into_another_file(two: Tab, tmp_path: Path):
    view = _page_bands(two)
    two.live(seq=1, far=500.0, near=None, bands=view, suggest=True)
    out = two.run("export_recipe", "click", two.session)
    recipe = Path(_value(out["recipe_file"]))
    assert recipe.name == "two.recipe.json" and json.loads(recipe.read_text())["cutoffs"]["depth_cutoff"] == 500.0
    exported = json.loads(recipe.read_text())
    two.run("files", "input", two.session, "two.exr")
    two.live(seq=2, far=450.0, near=None, bands=_page_bands(two))  # moved on since
    upload = tmp_path / "upload" / "scene.json"
    upload.parent.mkdir()
    upload.write_text(recipe.read_text())
    out = two.run("import_recipe", "upload", two.session, SimpleNamespace(name=str(upload), orig_name="scene.json"))
    assert "Mapped with the recipe scene.json" in _plain(out["status"])
    assert _value(out["cutoff"]) == 500.0 and not upload.exists()  # the upload is not kept
    page = json.loads(out["histogram_data"])["bands"]
    assert page["mode"] == "manual" and [b["levels"] for b in page["bands"]] == [b["levels"] for b in exported["bands"]]
    broken = tmp_path / "upload" / "broken.json"
    broken.write_text('{"format": "daz-depthmap-recipe", "version": 9}')
    out = two.run("import_recipe", "upload", two.session, SimpleNamespace(name=str(broken), orig_name="broken.json"))
    assert _plain(out["status"]).startswith("⚠ broken.json: ") and "version" in out["status"]
    notepad = tmp_path / "upload" / "notepad.json"  # UTF-8 with a byte order mark, as Notepad saves it
    notepad.write_bytes(b"\xef\xbb\xbf" + recipe.read_bytes())
    out = two.run("import_recipe", "upload", two.session, SimpleNamespace(name=str(notepad), orig_name="notepad.json"))
    assert "Mapped with the recipe notepad.json" in _plain(out["status"])
    deep = tmp_path / "upload" / "deep.json"
    deep.write_text("[" * 20000 + "]" * 20000)
    out = two.run("import_recipe", "upload", two.session, SimpleNamespace(name=str(deep), orig_name="deep.json"))
    assert _plain(out["status"]) == "⚠ deep.json: not a recipe: nested too deeply"


# --------------------------------------------------------------------------------------------------------------
# Canvas sets


@pytest.fixture
def canvas_set(tmp_path: Path) -> list[Path]:
    """A DAZ render's canvases: Depth and Normal EXRs, a Beauty EXR and the PNG render, of one small scene."""
    import cv2

    from tests.synthetic import figure_scene, render_canvases, write_depth_exr, write_vectors_exr

    scene = render_canvases(150, 200, figure_scene())
    folder = tmp_path / "render"
    folder.mkdir()
    files = [folder / "figure-Canvas1-Depth.exr", folder / "figure-Canvas2-Normal.exr", folder / "figure.png"]
    write_depth_exr(files[0], scene.depth)
    write_vectors_exr(files[1], scene.normals, half=True)
    cv2.imwrite(str(files[2]), np.full((150, 200, 3), 90, np.uint8))
    return files


def test_a_canvas_set_is_one_entry_with_normal_and_beauty_previews(tab: Tab, canvas_set: list[Path], png_reader):
    out = tab.upload(*canvas_set)
    assert _plain(out["status"]) == "Loaded 1 set (3 files)."  # not "1 file": the three dropped are one entry
    assert out["files"]["choices"] == ["figure"] and out["files"]["value"] == "figure"
    assert "Canvas set figure" in _plain(out["info"])
    normal, beauty = out["preview_normal"], out["preview_beauty"]
    assert normal["visible"] is True and beauty["visible"] is True
    image = normal["value"]
    assert image.ndim == 3 and image.shape[2] == 3 and image[0, 0].tolist() == [128, 128, 255]  # backdrop faces us
    assert "camera" in _plain(out["normal_info"]).lower()
    sd15 = tab.run("normal_convention", "input", tab.session, "sd15", "camera", False, None, None)
    assert sd15["preview_normal"]["value"][0, 0].tolist() == [255, 128, 128]  # ControlNet 1.0's channel order
    tab.run("normal_convention", "input", tab.session, "bae", "camera", False, None, None)
    saved = tab.run("save", "click", tab.session)
    normal_file = Path(_value(saved["normal_file"]))
    assert normal_file.name == "figure.normal.png" and png_reader(normal_file).shape == (150, 200, 3)
    assert _value(saved["beauty_file"]) is None  # a PNG render is used as it is, not rewritten
    folder = tab.sessions.get(tab.session).folder
    assert len(list(folder.iterdir())) == 3  # the set's parts are kept with its depth
    tab.run("remove", "click", tab.session)
    assert not folder.exists() or not any(folder.iterdir())  # and go with it


def test_a_normal_canvas_dropped_after_its_depth_joins_the_set_and_says_so(tab: Tab, canvas_set: list[Path]):
    depth, normal, _ = canvas_set
    out = tab.upload(depth)
    assert out["preview_normal"]["visible"] is False
    out = tab.upload(normal)
    assert _plain(out["status"]) == "Added figure-Canvas2-Normal.exr → figure."
    assert out["files"]["choices"] == ["figure"] and out["preview_normal"]["visible"] is True


def test_a_set_whose_normal_canvas_cannot_be_read_says_so_and_shows_its_depth(tab: Tab, canvas_set: list[Path]):
    depth, normal, _ = canvas_set
    normal.write_bytes(normal.read_bytes()[:2000])  # cut short
    out = tab.upload(depth, normal)
    status = _plain(out["status"])
    assert "figure-Canvas2-Normal.exr" in status and status.startswith("⚠") and "Traceback" not in status
    assert "figure-Canvas2-Normal.exr" in _plain(out["log"])
    assert out["preview_normal"]["visible"] is False and out["files"]["choices"] == ["figure"]
    assert _value(out["preview_depth"]) is not None  # the depth stays usable


def test_uploads_after_a_remove_load_and_never_replace_a_file_still_loaded(tab: Tab, shared_exr_dir: Path):
    """Issue 16 (6): after Remove of the last file every upload of the page failed; a re-upload after a removal was
    stored over a file still loaded."""
    tab.upload(shared_exr_dir / F32)
    tab.run("remove", "click", tab.session)
    out = tab.upload(shared_exr_dir / F32)
    assert _plain(out["status"]) == "Loaded 1 file." and tab.ws.keys == [F32]
    half = "synthetic_daz_Y_half_zip_1200.exr"
    tab.upload(shared_exr_dir / half)
    first = tab.ws.get(half).source
    before = first.read_bytes()
    tab.run("files", "input", tab.session, F32)
    tab.run("remove", "click", tab.session)  # one file fewer: the old rule numbered the next upload like `first`
    tab.upload(shared_exr_dir / F32, names=(half,))  # another file under the same name
    assert len(tab.ws.keys) == 2 and first.read_bytes() == before
    tab.run("files", "input", tab.session, half)
    saved = tab.run("save", "click", tab.session)
    assert "Wrote" in saved["status"], saved["status"]


def test_two_pages_saving_files_of_one_name_keep_each_others_outputs(loaded: Tab, shared_exr_dir: Path):
    """Issue 16 (7): two sessions that each saved their own scene.exr were both told "Wrote scene.depth.png", and
    the second replaced the first's file."""
    stem = F32.removesuffix(".exr")
    first = loaded.run("save", "click", loaded.session)
    mine = loaded.ctx.output_dir / f"{stem}.depth.png"
    assert _plain(first["status"]).startswith(f"Wrote {stem}.depth.png to ") and "⚠" not in first["status"]
    kept = mine.read_bytes()
    other = Tab(loaded.blocks, loaded.ctx)  # another page of the same server
    other.upload(shared_exr_dir / F32)
    other.live(seq=1, far=250.0, near=None)
    theirs = other.run("save", "click", other.session)
    told = _plain(theirs["status"])
    assert told.startswith(f"Wrote {stem}-2.depth.png to "), told
    assert f"⚠ {stem}.depth.png in that folder is not this file's own earlier output" in told
    assert f"saved as {stem}-2.depth.png instead" in told
    assert mine.read_bytes() == kept
    assert (
        Path(theirs["depth_file"]["value"]).read_bytes() == (loaded.ctx.output_dir / f"{stem}-2.depth.png").read_bytes()
    )
    again = loaded.run("save", "click", loaded.session)  # the same page again: its own file, replaced
    assert _plain(again["status"]).startswith(f"Wrote {stem}.depth.png to ") and "⚠" not in again["status"]
    recipe = other.run("export_recipe", "click", other.session)
    assert _plain(recipe["status"]).startswith(f"Wrote the recipe {stem}.recipe.json")
    recipe = loaded.run("export_recipe", "click", loaded.session)
    assert _plain(recipe["status"]).startswith(f"Wrote the recipe {stem}-2.recipe.json")
    assert "not this file's own earlier output" in recipe["status"]


def test_download_copies_go_when_replaced_when_the_page_goes_and_when_the_server_stops(
    loaded: Tab, shared_exr_dir: Path
):
    """Issue 16 (9): gradio's download copies of each saved map piled up and outlived the server."""
    cache = Path(os.environ["GRADIO_TEMP_DIR"])
    first = Path(loaded.run("save", "click", loaded.session)["depth_file"]["value"])
    loaded.run("mask", "input", loaded.session, False, True, False, 1, "16-bit")
    second = loaded.run("save", "click", loaded.session)
    offered = [Path(second[name]["value"]) for name in ("depth_file", "mask_file")]
    assert not first.exists() and not first.parent.exists(), "a page's earlier download copy goes"
    assert all(p.is_file() for p in offered)
    recipe = Path(loaded.run("export_recipe", "click", loaded.session)["recipe_file"]["value"])
    assert recipe.is_file() and all(p.is_file() for p in offered)
    other = Tab(loaded.blocks, loaded.ctx)
    other.upload(shared_exr_dir / F32)
    kept = Path(other.run("save", "click", other.session)["depth_file"]["value"])
    assert loaded.sessions.release(loaded.session)
    assert not any(p.exists() for p in [*offered, recipe]) and kept.is_file()
    loaded.sessions.close()  # the server stops
    assert not kept.exists() and not [p for p in cache.rglob("*") if p.is_file()]
    assert len(list(loaded.ctx.output_dir.iterdir())) == 4, "the saved files themselves stay"


def test_a_file_named_in_many_byte_characters_saves(tab: Tab, shared_exr_dir: Path):
    """Issue 16: stems were cut at 120 characters, not bytes: a CJK name the file system takes (83 characters, 253
    bytes) gave a 249-byte stem, and Save failed "too long"."""
    name = "深" * 83 + ".exr"
    assert len(name.encode("utf-8")) == 253
    tab.upload(shared_exr_dir / F32, names=(name,))
    out = tab.run("save", "click", tab.session)
    assert _plain(out["status"]).startswith("Wrote 深"), out["status"]
    (saved,) = tab.ctx.output_dir.iterdir()
    assert len(saved.name.encode("utf-8")) <= 255 and saved.name.endswith(".depth.png")
