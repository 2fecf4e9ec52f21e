"""The HTTP routes through a real ASGI stack (FastAPI's test client): the API's answers against the command line's
PNGs, every refusal as a 4xx JSON message, the API's access rules, and the preview route's sessions and login."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import struct
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from daz_depthmap.cli import main as cli
from daz_depthmap.depth.histogram import advice_lines
from daz_depthmap.depth.mapping import depth_stats
from daz_depthmap.exr import read_depth
from daz_depthmap.http.routes import PREFIX, ApiAccess, build_router
from daz_depthmap.params import DepthParams
from daz_depthmap.session.store import SessionStore
from daz_depthmap.session.workspace import Workspace
from tests.synthetic import daz_like_depth, two_subject_depth, write_depth_exr

F32 = "synthetic_daz_Y_f32_zip_1200.exr"
DAMAGED = Path(__file__).resolve().parent.parent.parent / "shared" / "testdata" / "exr-damaged"


def client(
    access: ApiAccess = ApiAccess(True),  # noqa: B008
    store: SessionStore | None = None,
    auth: bool = False,
) -> TestClient:
    app = FastAPI()
    app.include_router(build_router(lambda: store, access))
    if auth:  # what gradio's App carries with a login: its auth and the logged-in users' cookies
        app.auth = [("ann", "secret")]  # type: ignore[attr-defined]
        app.tokens = {"cookie-of-ann": "ann"}  # type: ignore[attr-defined]
    return TestClient(app)


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def png(text: str) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(base64.b64decode(text), np.uint8), cv2.IMREAD_UNCHANGED)


def cli_pngs(path: Path, out: Path, *flags: str) -> dict[str, bytes]:
    assert cli.main([str(path), "--out_dir", str(out), "-q", *flags]) == 0
    return {p.name.split(".")[-2]: p.read_bytes() for p in out.glob("*.png")}


# --------------------------------------------------------------------------------------------------------------
# The API's answers


@pytest.mark.parametrize(
    ("name", "options", "flags"),
    [
        (F32, {}, []),
        (F32, {"depth_cutoff": "auto", "mask": True, "bits": 16}, ["--depth_cutoff", "auto", "--mask", "--bits", "16"]),
        ("blender_crowskull_RGBAZ_f32_pxr24_1920x1080.exr", {"compress_map": True}, ["--compress_map"]),
        ("gaffer_imitateProductionLayers2_depth.Z_multipart.exr", {"depth_cutoff": 30.5}, ["--depth_cutoff", "30.5"]),
        ("oex_v1.7.test.1_RGBZ_dataWindow.exr", {"invert": False, "near_cutoff": 0.5}, ["--near_cutoff", "0.5"]),
    ],
)
def test_a_depth_map_is_the_command_lines_byte_for_byte(shared_exr_dir: Path, tmp_path: Path, name, options, flags):
    reply = client().post(
        f"{PREFIX}/depth-map", json={"image": b64(shared_exr_dir / name), "name": name, "options": options}
    )
    assert reply.status_code == 200, reply.text
    data = reply.json()
    expected = cli_pngs(shared_exr_dir / name, tmp_path, *flags)
    assert base64.b64decode(data["depth_map"]) == expected["depth"]
    if options.get("mask"):
        assert base64.b64decode(data["mask"]) == expected["mask"]
    depth = png(data["depth_map"])
    assert depth.shape == (data["height"], data["width"]) and depth.max() == (65535 if data["bits"] == 16 else 255)
    assert data["window"]["far"] > data["window"]["near"] and data["stats"]["valid_pixels"] > 0


def test_the_map_fills_a_controlnet_unit_and_says_what_it_used(shared_exr_dir: Path):
    data = client().post(f"{PREFIX}/depth-map", json={"image": b64(shared_exr_dir / F32)}).json()
    assert data["name"] == "upload.exr" and data["channel"] == "Y" and data["bits"] == 8
    assert 250 < data["suggested_cutoff"] < 290 and data["suggestion"]
    depth = png(data["depth_map"])  # near is white, the backdrop black
    assert depth[0, 0] == 0 and depth.max() == 255 and not data["depth_map"].startswith("data:")


def test_a_multipart_upload_with_bands_and_regions(tmp_path: Path):
    exr = tmp_path / "two.exr"
    write_depth_exr(exr, two_subject_depth(320, 240))
    form = {"options": json.dumps({"depth_cutoff": 500}), "bands": "auto", "regions": "true"}
    reply = client().post(f"{PREFIX}/depth-map", files={"file": ("two.exr", exr.read_bytes())}, data=form)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["name"] == "two.exr" and len(data["bands"]) >= 2
    regions = png(data["regions"])
    assert regions.shape == (data["height"], data["width"], 3) and len(data["region_list"]) >= 2


def test_a_recipe_gives_the_same_map_as_on_the_command_line(tmp_path: Path):
    exr = tmp_path / "two.exr"
    write_depth_exr(exr, two_subject_depth(320, 240))
    recipe = tmp_path / "two.recipe.json"
    assert cli.main([str(exr), "--depth_cutoff", "500", "--bands", "auto", "--save_recipe", str(recipe), "-q",
                     "--out_dir", str(tmp_path / "first")]) == 0  # fmt: skip
    expected = cli_pngs(exr, tmp_path / "out", "--recipe", str(recipe))
    body = {"image": b64(exr), "recipe": json.loads(recipe.read_text())}
    data = client().post(f"{PREFIX}/depth-map", json=body).json()
    assert base64.b64decode(data["depth_map"]) == expected["depth"]
    clash = client().post(f"{PREFIX}/depth-map", json={**body, "options": {"mask": True}})
    assert clash.status_code == 400 and "leave out options" in clash.json()["error"]


def test_the_histogram_in_numbers(shared_exr_dir: Path):
    data = client().post(f"{PREFIX}/histogram", json={"image": b64(shared_exr_dir / F32), "name": F32}).json()
    image = read_depth(shared_exr_dir / F32)
    lines = advice_lines(image.depth, depth_stats(image.depth, image.valid))[1:]
    assert [f"** - {a['bucket']:02d} - {a['percent']:.2f}% - {a['from']}" for a in data["advice"]] == lines
    assert len(data["histogram"]["counts"]) == 256 and len(data["histogram"]["edges"]) == 257
    assert sum(data["histogram"]["counts"]) == data["stats"]["valid_pixels"]
    assert 250 < data["suggested_cutoff"] < 290 and data["gap"] is not None


# --------------------------------------------------------------------------------------------------------------
# Refusals: a 4xx JSON message naming the problem


def _refused(reply: Any, status: int, *words: str) -> None:
    assert reply.status_code == status, reply.text
    message = reply.json()["error"]
    assert all(word in message for word in words), message
    assert "Traceback" not in message


def test_every_bad_input_is_a_4xx_message(shared_exr_dir: Path, tmp_path: Path):
    api = client(ApiAccess(True, max_body_bytes=16 * 2**20, max_pixels=2_000_000))
    good = b64(shared_exr_dir / F32)
    post = lambda body: api.post(f"{PREFIX}/depth-map", json=body)  # noqa: E731
    _refused(post({"image": "not base64!", "name": "a.exr"}), 400, "a.exr", "base64")
    _refused(post({"image": base64.b64encode(b"\x89PNG\r\n\x1a\n....").decode()}), 415, "a PNG")
    _refused(post({"image": base64.b64encode(b"hello world").decode()}), 415, "not an OpenEXR file")
    truncated = base64.b64encode((shared_exr_dir / F32).read_bytes()[:3000]).decode()
    _refused(post({"image": truncated, "name": "trunc.exr"}), 422, "trunc.exr")
    big = tmp_path / "big.exr"
    write_depth_exr(big, daz_like_depth(1600, 1400))
    _refused(post({"image": b64(big), "name": "big.exr"}), 413, "big.exr", "limit")
    _refused(post({"image": good, "options": {"cutof": 3}}), 400, "unknown option 'cutof'")
    _refused(post({"image": good, "options": {"bits": 12}}), 400, "'bits'")
    _refused(post({"image": good, "options": {"mask": "yes"}}), 400, "'mask'", "true or false")
    _refused(post({"image": good, "options": {"depth_cutoff": 100, "near_cutoff": 200}}), 422)
    _refused(post({"image": good, "colour": "red"}), 400, "unknown field 'colour'")
    _refused(post({"image": good, "bands": "x,y"}), 400, "bands")
    _refused(api.post(f"{PREFIX}/depth-map", content=b"{not json", headers={"content-type": "application/json"}), 400)
    _refused(api.post(f"{PREFIX}/depth-map", content=b"x" * (17 * 2**20)), 413, "limit")
    _refused(api.post(f"{PREFIX}/depth-map", content=b"<xml/>", headers={"content-type": "text/xml"}), 415)
    _refused(api.post(f"{PREFIX}/histogram", json={"image": good, "invert": "no"}), 400, "'invert'")
    _refused(api.post(f"{PREFIX}/depth-map", files={"other": ("a.exr", b"x")}), 400, "'file'")


def test_damaged_files_are_refused_one_message_each_and_the_server_goes_on(shared_exr_dir: Path):
    files = sorted(DAMAGED.glob("*.exr"))[::6]
    assert len(files) >= 15, f"the damaged corpus is missing from {DAMAGED}"
    api = client()
    for path in files:
        reply = api.post(f"{PREFIX}/depth-map", json={"image": b64(path), "name": path.name})
        assert 400 <= reply.status_code < 500 and reply.json()["error"].startswith(path.name), (path.name, reply.text)
    assert api.post(f"{PREFIX}/depth-map", json={"image": b64(shared_exr_dir / F32)}).status_code == 200


# --------------------------------------------------------------------------------------------------------------
# Who may use it


def test_the_api_exists_only_when_it_is_on_and_asks_for_credentials_when_set(shared_exr_dir: Path):
    body = {"image": b64(shared_exr_dir / F32)}
    _refused(client(ApiAccess(False)).post(f"{PREFIX}/depth-map", json=body), 404, "--api")
    locked = client(ApiAccess(True, ApiAccess.parse_credentials("ann:secret,bob:pw:with:colons")))
    reply = locked.post(f"{PREFIX}/depth-map", json=body)
    _refused(reply, 401, "credentials")
    assert reply.headers["www-authenticate"] == "Basic"
    _refused(locked.post(f"{PREFIX}/histogram", json=body, auth=("ann", "wrong")), 401)
    assert locked.post(f"{PREFIX}/depth-map", json=body, auth=("ann", "secret")).status_code == 200
    assert locked.post(f"{PREFIX}/histogram", json=body, auth=("bob", "pw:with:colons")).status_code == 200


# --------------------------------------------------------------------------------------------------------------
# The preview route


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    sessions = SessionStore(lambda: Workspace(DepthParams(depth_cutoff="auto"), preview_side=400), root=tmp_path)
    yield sessions
    sessions.close()


def _loaded(store: SessionStore, exr: Path) -> Any:
    session = store.open(None).session
    session.workspace.load([exr])
    return session


def _unpack(body: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    (length,) = struct.unpack("<I", body[:4])
    reply = json.loads(body[4 : 4 + length])
    images, offset = {}, 4 + length
    for image in reply["images"]:
        data = np.frombuffer(body[offset : offset + image["bytes"]], np.uint8)
        images[image["name"]] = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        offset += image["bytes"]
    return reply, images


def test_the_preview_route_answers_for_its_own_session_only(store: SessionStore, shared_exr_dir: Path):
    mine, other = _loaded(store, shared_exr_dir / F32), _loaded(store, shared_exr_dir / F32)
    shown = mine.workspace.require_shown()
    api = client(store=store)
    request = {"seq": 7, "key": shown.file.key, "view": shown.view, "far": 240.0, "near": None}
    reply = api.post(f"{PREFIX}/preview", json={**request, "session": mine.token})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/x-daz-depthmap")
    answer, images = _unpack(reply.content)
    assert answer["seq"] == 7 and answer["far"] == 240.0 and answer["error"] is None
    expected = mine.workspace.require_shown().render_preview().picture
    assert np.array_equal(images["depth"], expected)  # the exact levels, as the gradio path shows them
    assert "mask" not in images
    # the other page's session is untouched, and an unknown token reads nothing
    assert other.workspace.require_shown().params.depth_cutoff != 240.0
    _refused(api.post(f"{PREFIX}/preview", json={**request, "session": "guess"}), 404, "no such session")
    _refused(api.post(f"{PREFIX}/preview", json={**request}), 404)
    # a request for another view changes nothing and carries no picture
    stale, images = _unpack(
        api.post(f"{PREFIX}/preview", json={**request, "view": -1, "bands": {}, "session": mine.token}).content
    )
    assert stale["stale"] is True and images == {}
    refused, images = _unpack(
        api.post(f"{PREFIX}/preview", json={**request, "near": 250.0, "session": mine.token}).content
    )
    assert "near" in refused["error"] and refused["far"] == 240.0 and images == {}
    _refused(api.post(f"{PREFIX}/preview", content=b"x" * 70_000), 413)


def test_the_preview_route_sends_the_mask_when_it_is_on(store: SessionStore, shared_exr_dir: Path):
    mine = _loaded(store, shared_exr_dir / F32)
    mine.workspace.update(mask=True)
    shown = mine.workspace.require_shown()
    body = {"session": mine.token, "seq": 1, "key": shown.file.key, "view": shown.view, "far": 260.0}
    answer, images = _unpack(client(store=store).post(f"{PREFIX}/preview", json=body).content)
    assert set(images) == {"depth", "mask"} and images["mask"].max() == 255 and images["mask"][0, 0] == 0


def test_with_a_login_the_page_routes_need_the_users_cookie(store: SessionStore, shared_exr_dir: Path):
    mine = _loaded(store, shared_exr_dir / F32)
    shown = mine.workspace.require_shown()
    body = {"session": mine.token, "seq": 1, "key": shown.file.key, "view": shown.view, "far": 260.0}
    api = client(store=store, auth=True)
    _refused(api.post(f"{PREFIX}/preview", json=body), 401, "log in")
    api.post(f"{PREFIX}/sessions/{mine.token}/release")  # refused silently: the session stays
    assert store.get(mine.token) is not None
    api.cookies.set("access-token", "cookie-of-ann")
    assert api.post(f"{PREFIX}/preview", json=body).status_code == 200


@contextlib.contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` on a real uvicorn server (one event loop, as in the WebUI), in a thread; yields its address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _post(url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_a_conversion_in_progress_does_not_hold_up_the_previews(
    store: SessionStore, shared_exr_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """On one event loop (uvicorn's, the WebUI's), a conversion that takes long leaves the page's previews free."""
    from daz_depthmap.http import routes

    started, release = threading.Event(), threading.Event()
    real = routes.convert

    def slow_convert(*args: Any, **kwargs: Any) -> Any:
        started.set()
        assert release.wait(60), "the test never released the conversion"
        return real(*args, **kwargs)

    monkeypatch.setattr(routes, "convert", slow_convert)
    mine = _loaded(store, shared_exr_dir / F32)
    shown = mine.workspace.require_shown()
    app = FastAPI()
    app.include_router(build_router(lambda: store, ApiAccess(True)))
    answers: list[int] = []
    with served(app) as url:
        body = {"image": b64(shared_exr_dir / F32)}
        worker = threading.Thread(target=lambda: answers.append(_post(f"{url}{PREFIX}/depth-map", body)[0]))
        worker.start()
        try:
            assert started.wait(60)
            request = {"session": mine.token, "seq": 1, "key": shown.file.key, "view": shown.view, "far": 250.0}
            status, content = _post(f"{url}{PREFIX}/preview", request)  # answered while the conversion still runs
            assert status == 200 and _unpack(content)[0]["far"] == 250.0
            assert answers == [] and worker.is_alive()
        finally:
            release.set()
            worker.join(60)
    assert answers == [200]


@pytest.mark.parametrize("value", ["alice", "alice:", ":pw", "ann:pw,", "ann:pw,,bob:pw", "", "   "])
def test_credentials_that_cannot_be_read_are_an_error_not_an_open_api(value: str):
    with pytest.raises(ValueError) as caught:
        ApiAccess.parse_credentials(value)
    assert "pw" not in str(caught.value)
    assert ApiAccess.parse_credentials(None) == {}
    parsed = ApiAccess.parse_credentials(" ann : secret ,bob:pw:with:colons")
    assert parsed == {"ann": "secret", "bob": "pw:with:colons"}


def test_hostile_bodies_are_a_4xx_json_message_not_a_traceback(store: SessionStore, caplog: pytest.LogCaptureFixture):
    """Deep nesting, garbage multipart, wrong methods: a 4xx ``{"error"}`` each (the test client raises any error
    the app lets out, as the server would log its traceback)."""
    api = client(store=store)
    deep = "[" * 20000 + "]" * 20000
    _refused(api.post(f"{PREFIX}/depth-map", content=b'{"options": ' + deep.encode() + b"}"), 400, "nested too deeply")
    _refused(api.post(f"{PREFIX}/depth-map", content=deep.encode()), 400)
    _refused(
        api.post(f"{PREFIX}/depth-map", files={"file": ("a.exr", b"v/1\x01....")}, data={"options": deep}),
        400,
        "'options'",
        "nested too deeply",
    )
    _refused(api.post(f"{PREFIX}/histogram", files={"file": ("a.exr", b"v/1\x01")}, data={"invert": deep}), 400)
    _refused(api.post(f"{PREFIX}/preview", content=deep.encode()), 400, "live preview request")
    _refused(api.post(f"{PREFIX}/preview", content=b'{"session": ' + deep.encode() + b"}"), 400)
    garbage = {"Content-Type": "multipart/form-data; boundary=xyz"}
    _refused(api.post(f"{PREFIX}/depth-map", content=b"\x00garbage\xff" * 1000, headers=garbage), 400, "multipart")
    _refused(
        api.post(f"{PREFIX}/depth-map", content=b"x", headers={"Content-Type": "multipart/form-data"}), 400, "boundary"
    )
    for path in ("/depth-map", "/histogram", "/preview", "/sessions/abc/release"):
        reply = api.get(PREFIX + path)
        _refused(reply, 405, "POST")
        assert "POST" in reply.headers["allow"]
    _refused(api.post(f"{PREFIX}/no-such-route", json={}), 404, "no such route")
    _refused(api.put(f"{PREFIX}/depth-map", json={}), 405)
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_cross_site_requests_are_refused_and_our_answers_carry_no_cors_headers(store: SessionStore, shared_exr_dir):
    """Any page the user visits could post to 127.0.0.1: a request with another site's Origin is refused (403),
    a preflight too, whatever CORS the host allows (gradio 3: every origin); pages of the server itself and scripts
    (no Origin) are served."""
    from fastapi.middleware.cors import CORSMiddleware

    from daz_depthmap.http.routes import mount

    app = FastAPI()
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])

    @app.post("/gradio-route")
    def other() -> dict[str, bool]:  # the host's own route: left as the host made it
        return {"ok": True}

    mount(app, build_router(lambda: store, ApiAccess(True)))
    api = TestClient(app)  # its requests go to http://testserver
    body = {"image": b64(shared_exr_dir / F32)}
    for origin in (
        "http://evil.example",
        "null",
        "http://testserver:8080",
        "https://testserver",
        "http://testserver.evil",
    ):
        reply = api.post(f"{PREFIX}/depth-map", json=body, headers={"Origin": origin})
        _refused(reply, 403, "cross-site")
        assert not [key for key in reply.headers if key.lower().startswith("access-control-")], reply.headers
    for path in ("/preview", "/histogram", "/sessions/abc/release", "/nothing"):
        _refused(api.post(PREFIX + path, json={}, headers={"Origin": "http://evil.example"}), 403)
    preflight = api.options(
        f"{PREFIX}/depth-map",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    _refused(preflight, 403, "cross-site")
    assert "access-control-allow-origin" not in preflight.headers
    same = api.post(f"{PREFIX}/depth-map", json=body, headers={"Origin": "http://testserver"})
    assert same.status_code == 200 and "access-control-allow-origin" not in same.headers
    assert api.post(f"{PREFIX}/depth-map", json=body).status_code == 200  # a script: no Origin
    assert api.post("/gradio-route", headers={"Origin": "http://evil.example"}).headers["access-control-allow-origin"]


def test_the_openapi_schema_shows_the_request_fields_for_json_and_multipart():
    """As ``/sdapi/v1/txt2img`` shows its fields in ``/docs``: a script author sees what to send."""
    app = FastAPI()
    app.include_router(build_router(lambda: None, ApiAccess(True)))
    schema = TestClient(app).get("/openapi.json").json()
    expected = {
        f"{PREFIX}/depth-map": {"image", "name", "options", "recipe", "bands", "allocate", "regions", "split_parts",
                                "min_area"},
        f"{PREFIX}/histogram": {"image", "name", "channel", "invert"},
    }  # fmt: skip
    for path, fields in expected.items():
        operation = schema["paths"][path]["post"]
        content = operation["requestBody"]["content"]
        as_json = content["application/json"]["schema"]
        assert set(as_json["properties"]) == fields and as_json["required"] == ["image"]
        as_form = content["multipart/form-data"]["schema"]
        assert set(as_form["properties"]) == (fields - {"image"}) | {"file"} and as_form["required"] == ["file"]
        assert as_form["properties"]["file"]["format"] == "binary"
        assert operation["responses"]["413"]["content"]["application/json"]["schema"]["properties"]["error"]
    options = schema["paths"][f"{PREFIX}/depth-map"]["post"]["requestBody"]["content"]["application/json"]
    assert {"depth_cutoff", "mask", "bits", "compress_map"} <= set(
        options["schema"]["properties"]["options"]["properties"]
    )
    assert not any("{rest" in path for path in schema["paths"])  # the catch-all is not documented


def test_compress_map_has_a_lower_pixel_limit(shared_exr_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Ranking the distinct depths of an image costs up to 43 bytes a pixel (4.3 GB at the default 100 MP limit):
    over the API, compress_map takes images up to COMPRESS_MAX_PIXELS, said in a 413."""
    from daz_depthmap.http import api as api_module

    monkeypatch.setattr(api_module, "COMPRESS_MAX_PIXELS", 1_000_000)  # the 1200x1200 file is over it
    body = {"image": b64(shared_exr_dir / F32), "name": "big.exr"}
    reply = client().post(f"{PREFIX}/depth-map", json={**body, "options": {"compress_map": True}})
    _refused(reply, 413, "big.exr", "compress_map", "1,000,000")
    assert client().post(f"{PREFIX}/depth-map", json=body).status_code == 200
    small = client(ApiAccess(True, max_pixels=2_000_000)).post(f"{PREFIX}/depth-map", json={**body, "options": {}})
    assert small.status_code == 200
