"""The extension inside a stand-in WebUI 1.10.1: registration, settings, the tab, ControlNet found or not,
hidden tabs, ``--api`` duplicates and Reload UI."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import gradio as gr
import pytest
import standin_webui
from webui_helpers import WebUI, event_index, follow_ups

from daz_depthmap.params import DepthParams

SETTING_KEYS = (
    "daz_depthmap_output_dir",
    "daz_depthmap_bits",
    "daz_depthmap_depth_model",
    "daz_depthmap_send_sets_model",
)


def _send_events_outputs(page: standin_webui.Page, block) -> set[int]:
    ids: set[int] = set()
    for index in follow_ups(page.demo, event_index(page.demo, block.send, "click")):
        ids.update(page.demo.dependencies[index]["outputs"])
        ids.update(page.demo.dependencies[index]["inputs"])
    return ids


def test_the_scripts_file_only_registers_callbacks(webui: WebUI, capsys: pytest.CaptureFixture[str]) -> None:
    webui.load_scripts()
    registered = {category: len(found) for category, found in webui.script_callbacks.callback_map.items() if found}
    assert registered == {"before_ui": 1, "after_component": 1, "ui_settings": 1, "ui_tabs": 1, "app_started": 2}
    assert not any(key.startswith("daz_depthmap") for key in webui.shared.opts.data_labels)  # nothing read or added
    assert webui.extension.components.ids() == []
    assert capsys.readouterr().out == ""


def test_settings_get_their_own_section_with_defaults(webui: WebUI) -> None:
    webui.load_scripts()
    page = webui.start()
    labels = webui.shared.opts.data_labels
    assert all(labels[key].section == ("daz_depthmap", "DAZ Depth") for key in SETTING_KEYS)
    assert [webui.shared.opts.data[key] for key in SETTING_KEYS] == ["", 8, "Keep the unit's model", True]
    # the preferred model is chosen from ControlNet's own list, depth models only
    model_setting = page.settings_components["daz_depthmap_depth_model"]
    assert model_setting.choices == [
        "Keep the unit's model",
        "control_v11f1p_sd15_depth [cfd03158]",
        "t2iadapter_depth_sd14v1 [fc6cd1da]",
    ]
    assert page.settings_components["daz_depthmap_bits"].choices == [("8", 8), ("16", 16)]
    assert str(webui.data_dir / "outputs" / "daz_depthmap") in labels["daz_depthmap_output_dir"].comment_after
    assert webui.errors() == []


def test_the_output_folder_setting_is_hidden_with_hide_ui_dir_config(webui: WebUI) -> None:
    webui.shared.cmd_opts.hide_ui_dir_config = True
    webui.load_scripts()
    page = webui.start()
    assert page.settings_components["daz_depthmap_output_dir"].visible is False


def test_the_tab_context_follows_the_settings(webui: WebUI, tmp_path: Path) -> None:
    webui.load_scripts()
    webui.start()
    extension, opts = webui.extension, webui.shared.opts
    ctx = extension.tab_context()
    assert ctx.output_dir == webui.data_dir / "outputs" / "daz_depthmap"
    assert ctx.defaults == DepthParams(bits=8)
    assert ctx.elem_prefix == "daz_depthmap"

    opts.set("daz_depthmap_output_dir", "renders/depth")
    opts.set("daz_depthmap_bits", 16)
    ctx = extension.tab_context()
    assert ctx.output_dir == webui.data_dir / "renders" / "depth"
    assert ctx.defaults.bits == 16

    opts.set("daz_depthmap_output_dir", str(tmp_path / "elsewhere"))
    opts.set("daz_depthmap_bits", "junk")
    ctx = extension.tab_context()
    assert ctx.output_dir == tmp_path / "elsewhere"
    assert ctx.defaults.bits == 8


def test_settings_fall_back_to_defaults_without_a_settings_page(webui: WebUI) -> None:
    """--nowebui: on_ui_settings never runs, so the options do not exist."""
    webui.load_scripts()
    ctx = webui.extension.tab_context()
    assert ctx.output_dir == webui.data_dir / "outputs" / "daz_depthmap"
    assert ctx.defaults.bits == 8


def test_the_tab_is_built_with_the_send_block_wired_to_the_page(webui: WebUI) -> None:
    webui.load_scripts()
    page = webui.start()
    assert [(label, ifid) for _, label, ifid in page.tabs] == [
        ("txt2img", "txt2img"),
        ("img2img", "img2img"),
        ("DAZ Depth", "daz_depthmap"),
    ]
    block = webui.extension.send_block
    assert block is not None and block.send is not None
    assert {t: [u.label for u in units] for t, units in block.units.items()} == {
        "txt2img": ["Unit 0", "Unit 1", "Unit 2"],
        "img2img": ["Unit 0", "Unit 1", "Unit 2"],
    }
    unit = block.units["img2img"][1]
    standin = page.units["img2img"][1]
    assert (unit.image, unit.enable, unit.preprocessor, unit.model) == (
        standin.image,
        standin.enable,
        standin.preprocessor,
        standin.model,
    )
    assert unit.tick_id == "img2img_controlnet_ControlNet-1_controlnet_same_img2img_checkbox"
    # everything the send events read or write is on the page (else gradio raises InvalidBlockError)
    assert _send_events_outputs(page, block) <= set(page.demo.blocks)
    assert len(follow_ups(page.demo, event_index(page.demo, block.send, "click"))) == 1 + 2 * block.max_pairs
    assert webui.errors() == []


def test_the_webui_and_its_controlnet_are_said_in_one_line(webui: WebUI, capsys: pytest.CaptureFixture[str]) -> None:
    webui.load_scripts()
    webui.start(units=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("DAZ Depth:")]
    assert lines == [
        "DAZ Depth: AUTOMATIC1111 WebUI with sd-webui-controlnet (txt2img 2 units, img2img 2 units): "
        "Send to ControlNet is on."
    ]
    assert webui.extension.send_block.notice() == lines[0]
    webui.start(units=0)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("DAZ Depth:")]
    assert lines == [
        "DAZ Depth: AUTOMATIC1111 WebUI, no ControlNet found: Send to ControlNet is off (saving depth maps works)."
    ]


def test_without_controlnet_the_block_says_what_is_missing(webui: WebUI) -> None:
    webui.load_scripts()
    webui.start(units=0)
    block = webui.extension.send_block
    assert block.send is None
    assert "ControlNet extension (sd-webui-controlnet)" in block.message.value
    assert "Extensions › Available" in block.message.value
    assert webui.errors() == []


def test_a_hidden_generation_tab_is_not_offered(webui: WebUI) -> None:
    webui.shared.opts.set("hidden_tabs", ["img2img"])
    webui.load_scripts()
    page = webui.start()
    block = webui.extension.send_block
    assert block.tab.choices == [("txt2img", "txt2img")]
    assert "img2img is hidden" in block.status.value
    assert block.send_mask.visible is False
    assert _send_events_outputs(page, block) <= set(page.demo.blocks)
    img2img_ids = {u.image._id for u in page.units["img2img"]} | {page.inpaint_mask._id}
    assert not _send_events_outputs(page, block) & img2img_ids


def test_with_both_generation_tabs_hidden_the_block_explains(webui: WebUI) -> None:
    webui.shared.opts.set("hidden_tabs", ["txt2img", "img2img"])
    webui.load_scripts()
    webui.start()
    block = webui.extension.send_block
    assert block.send is None
    assert "txt2img and img2img are hidden" in block.message.value
    assert "Hidden UI tabs" in block.message.value


def test_the_single_unit_layout_has_ids_without_an_index(webui: WebUI) -> None:
    webui.load_scripts()
    page = webui.start(units=1)
    block = webui.extension.send_block
    assert {t: [u.label for u in units] for t, units in block.units.items()} == {
        "txt2img": ["Unit 0"],
        "img2img": ["Unit 0"],
    }
    unit = block.units["img2img"][0]
    assert unit.image_id == "img2img_controlnet_ControlNet_input_image"
    assert unit.image is page.units["img2img"][0].image
    assert unit.enable_id == "img2img_controlnet_ControlNet_controlnet_enable_checkbox"


def test_api_mode_duplicates_do_not_replace_the_page_components(webui: WebUI) -> None:
    webui.load_scripts()
    page = webui.start(api=True)  # the API builds ControlNet's UI again after the tabs, in a throwaway Blocks
    components = webui.extension.components
    image_id = "img2img_controlnet_ControlNet-1_input_image"
    assert components.get(image_id) is page.units["img2img"][1].image
    assert components.get(image_id)._id in page.demo.blocks
    # the settings' model list (built later) still reads the page's dropdowns
    assert webui.extension.depth_models() == [
        "control_v11f1p_sd15_depth [cfd03158]",
        "t2iadapter_depth_sd14v1 [fc6cd1da]",
    ]


def test_reload_ui_builds_a_working_block_for_the_new_page(webui: WebUI) -> None:
    webui.load_scripts()
    first = webui.start(api=True)
    second = webui.reload_ui(api=True)
    block = webui.extension.send_block
    assert block.units["img2img"][1].image is second.units["img2img"][1].image
    ids = _send_events_outputs(second, block)
    assert ids <= set(second.demo.blocks)
    assert not ids & {u.image._id for units in first.units.values() for u in units}
    assert webui.errors() == []


def test_a_new_page_without_reloading_scripts_forgets_the_old_components(webui: WebUI) -> None:
    """on_before_ui clears what on_after_component collected for the previous page."""
    webui.load_scripts()
    first = webui.start()
    second = webui.start()
    block = webui.extension.send_block
    assert block.units["txt2img"][0].image is second.units["txt2img"][0].image
    assert not _send_events_outputs(second, block) & {u.image._id for u in first.units["txt2img"]}


def test_an_unknown_controlnet_layout_gets_a_message(webui: WebUI) -> None:
    """Forge-like: the unit's ``_input_image`` id is on an HTML shell, not on a gr.Image."""
    webui.load_scripts()
    webui.script_callbacks.ui_settings_callback()
    with gr.Blocks():
        for tab in ("txt2img", "img2img"):
            gr.HTML("canvas", elem_id=f"{tab}_controlnet_ControlNet-0_input_image")
            gr.Checkbox(elem_id=f"{tab}_controlnet_ControlNet-0_controlnet_enable_checkbox")
    (blocks, _, _), *_ = webui.script_callbacks.ui_tabs_callback()
    assert webui.extension.send_block.send is None
    assert "uses other components" in webui.extension.send_block.message.value
    assert "a ControlNet of unknown make" in webui.extension.send_block.notice()
    assert isinstance(blocks, gr.Blocks)


def test_controlnet_without_the_known_unit_ids_gets_a_message(webui: WebUI) -> None:
    """Another ControlNet version: its components are there, the unit image ids are not."""
    webui.load_scripts()
    webui.script_callbacks.ui_settings_callback()
    with gr.Blocks():
        for tab in ("txt2img", "img2img"):
            gr.Image(elem_id=f"{tab}_controlnet_unit_0_image")
            gr.Checkbox(elem_id=f"{tab}_controlnet_ControlNet-0_controlnet_enable_checkbox")
    webui.script_callbacks.ui_tabs_callback()
    assert webui.extension.send_block.send is None
    assert "could not find ControlNet's unit images" in webui.extension.send_block.message.value
    assert webui.errors() == []


def test_depth_models_come_from_controlnets_own_list_when_it_is_loaded(
    webui: WebUI, monkeypatch: pytest.MonkeyPatch
) -> None:
    external = types.ModuleType("internal_controlnet.external_code")
    external.get_models = lambda update=False: [
        "control_v11p_sd15_canny [d14c016b]",
        "control_sd15_Depth_Anything [0a1b2c3d]",
        "control_v11f1p_sd15_depth [cfd03158]",
    ]
    monkeypatch.setitem(sys.modules, "internal_controlnet", types.ModuleType("internal_controlnet"))
    monkeypatch.setitem(sys.modules, "internal_controlnet.external_code", external)
    webui.load_scripts()
    webui.start()
    assert webui.extension.depth_models() == [
        "control_sd15_Depth_Anything [0a1b2c3d]",
        "control_v11f1p_sd15_depth [cfd03158]",
    ]
    assert webui.extension.send_block.model.choices == [
        "Keep the unit's model",
        "control_sd15_Depth_Anything [0a1b2c3d]",
        "control_v11f1p_sd15_depth [cfd03158]",
    ]


def test_the_preferred_model_is_preselected_even_after_its_hash_changed(webui: WebUI) -> None:
    webui.load_scripts()
    webui.shared.opts.data["daz_depthmap_depth_model"] = "control_v11f1p_sd15_depth [00000000]"
    webui.start()
    assert webui.extension.send_block.model.value == "control_v11f1p_sd15_depth [cfd03158]"


def test_older_webuis_without_callback_names_load_the_extension(webui: WebUI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before 1.9 ``on_ui_tabs(callback, name=...)`` raised TypeError: the extension registers without names there."""
    callbacks = webui.script_callbacks
    for hook in ("on_before_ui", "on_after_component", "on_ui_settings", "on_ui_tabs"):
        category = hook.removeprefix("on_")

        def old_style(callback, category=category):  # the 1.6/1.7 signature: the callback alone
            callbacks.add_callback(callbacks.callback_map[category], callback, category=category)

        monkeypatch.setattr(callbacks, hook, old_style)
    webui.load_scripts()
    page = webui.start()
    assert [ifid for _, _, ifid in page.tabs][-1] == "daz_depthmap"
    assert webui.extension.send_block is not None and webui.errors() == []


def test_no_component_of_the_tab_is_saved_to_ui_config(webui: WebUI) -> None:
    """The WebUI's ui-config.json (ui_loadsave) would otherwise restore "8-bit" over the Settings page's default."""
    webui.shared.opts.set("daz_depthmap_bits", 16)
    webui.load_scripts()
    page = webui.start()
    tab = next(interface for interface, _, ifid in page.tabs if ifid == "daz_depthmap")
    components = [b for b in tab.blocks.values() if isinstance(b, gr.components.IOComponent)]
    saved = [c for c in components if getattr(c, "label", None) and not getattr(c, "do_not_save_to_config", False)]
    assert components and saved == []
    bits = next(c for c in components if c.elem_id == "daz_depthmap_bits")
    assert bits.value == "16-bit"


def test_a_webui_with_an_older_gradio_gets_one_log_line(
    webui: WebUI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(gr, "__version__", "3.32.0")  # the WebUI 1.5's
    webui.load_scripts()
    lines = [r.getMessage() for r in caplog.records if "DAZ Depth needs" in r.getMessage()]
    assert lines == [
        "DAZ Depth needs the AUTOMATIC1111 WebUI 1.6 or newer (gradio 3.41 or newer); this one has gradio 3.32.0: "
        "update the WebUI, or use the command line (python -m daz_depthmap)"
    ]
    monkeypatch.setattr(gr, "__version__", "3.41.2")
    caplog.clear()
    webui.load_scripts()
    assert not [r for r in caplog.records if "DAZ Depth needs" in r.getMessage()]


def test_the_api_routes_follow_the_webuis_api_flags(webui: WebUI, monkeypatch: pytest.MonkeyPatch, shared_exr_dir):
    """``--api`` makes the routes answer, ``--api-auth`` asks for its credentials; read when a request comes."""
    import base64

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    webui.load_scripts()
    webui.start(units=1)
    app = FastAPI()
    webui.script_callbacks.app_started_callback(None, app)
    api = TestClient(app)
    body = {"image": base64.b64encode((shared_exr_dir / "synthetic_daz_Y_f32_zip_1200.exr").read_bytes()).decode()}
    path = "/daz-depthmap/v1/depth-map"
    assert api.post(path, json=body).status_code == 404  # no --api: no API
    monkeypatch.setattr(webui.shared.cmd_opts, "api", True, raising=False)
    assert api.post(path, json=body).status_code == 200
    monkeypatch.setattr(webui.shared.cmd_opts, "api_auth", "ann:secret", raising=False)
    assert api.post(path, json=body).status_code == 401
    assert api.post(path, json=body, auth=("ann", "secret")).json()["width"] == 1200


def test_an_api_auth_that_cannot_be_read_leaves_the_api_unmounted(
    webui: WebUI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, shared_exr_dir
):
    """The WebUI refuses ``--api-auth alice`` itself; should such a value reach the extension, its API is not
    mounted (and the log says why) rather than served without the login the user asked for."""
    import base64

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    monkeypatch.setattr(webui.shared.cmd_opts, "api", True, raising=False)
    monkeypatch.setattr(webui.shared.cmd_opts, "api_auth", "alice", raising=False)
    webui.load_scripts()
    webui.start(units=1)
    app = FastAPI()
    webui.script_callbacks.app_started_callback(None, app)
    paths = {getattr(route, "path", "") for route in app.routes}
    assert "/daz-depthmap/v1/preview" in paths and "/daz-depthmap/v1/depth-map" not in paths
    said = [r.getMessage() for r in caplog.records]
    assert any("--api-auth cannot be read" in line and "not mounted" in line for line in said), said
    body = {"image": base64.b64encode((shared_exr_dir / "synthetic_daz_Y_f32_zip_1200.exr").read_bytes()).decode()}
    assert TestClient(app).post("/daz-depthmap/v1/depth-map", json=body).status_code != 200


def test_the_users_uploads_are_deleted_when_the_webui_stops(
    webui: WebUI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_exr_dir
) -> None:
    import atexit
    import shutil

    at_exit: list = []
    monkeypatch.setattr(atexit, "register", lambda fn, *a, **k: at_exit.append(fn) or fn)
    webui.load_scripts()
    webui.start(units=1)
    store = webui.extension.sessions
    session = store.open(None).session
    upload = tmp_path / "scene.exr"
    shutil.copyfile(shared_exr_dir / "synthetic_daz_Y_f32_zip_1200.exr", upload)
    kept = store.adopt(session, upload, "scene.exr")
    assert kept.is_file()
    for fn in at_exit:  # what the interpreter runs when the WebUI's process ends
        fn()
    assert not kept.exists() and not kept.parent.parent.exists()


def test_the_output_folder_is_kept_out_of_gradios_file_route(webui: WebUI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16 (7): gradio 3 serves every file below the WebUI's folder to any client that names it, the saved maps
    of every user of the tab among them; a page downloads its own maps through copies in gradio's cache."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    monkeypatch.chdir(webui.data_dir)  # the WebUI runs in its folder, outputs/ below it
    webui.load_scripts()
    page = webui.start(units=1)
    saved = webui.data_dir / "outputs" / "daz_depthmap" / "scene.depth.png"
    saved.parent.mkdir(parents=True)
    saved.write_bytes(b"someone's map")
    elsewhere = webui.data_dir / "outputs" / "txt2img-images" / "00001.png"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_bytes(b"the WebUI's own image")
    client = TestClient(gr.routes.App.create_app(page.demo))
    assert client.get(f"/file={saved}").status_code == 200  # what gradio 3 does in the WebUI's folder
    webui.script_callbacks.app_started_callback(page.demo, FastAPI())
    assert str(saved.parent) in page.demo.blocked_paths
    assert client.get(f"/file={saved}").status_code == 403
    assert client.get("/file=outputs/daz_depthmap/scene.depth.png").status_code == 403
    assert client.get(f"/file={elsewhere}").status_code == 200, "the WebUI's own outputs are served as before"
