"""The API under many requests at once, on a real server (uvicorn, one event loop as in the WebUI): a cap on the
requests in flight (503 with Retry-After at once over it), waiting requests that hold no worker thread, a time limit
that runs from a request's arrival, and no posted file left behind whatever happens to a request."""

from __future__ import annotations

import base64
import json
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from daz_depthmap.http import routes
from daz_depthmap.http.gate import Gate
from daz_depthmap.http.routes import PREFIX, ApiAccess, build_router
from tests.test_routes import F32, served

URL = f"{PREFIX}/depth-map"


def post(url: str, body: dict[str, Any], timeout: float = 120) -> tuple[int, Any, Any]:
    """``(status, headers, JSON answer)`` of a POST (urllib: it sends the whole body, then reads)."""
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, reply.headers, json.load(reply)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read())


@pytest.fixture
def blocked_conversions(monkeypatch: pytest.MonkeyPatch):
    """Conversions that wait until the test lets them go: ``(started, release)``."""
    started, release = threading.Semaphore(0), threading.Event()
    real = routes.convert

    def slow_convert(*args: Any, **kwargs: Any) -> Any:
        started.release()
        assert release.wait(60), "the test never let the conversion go"
        return real(*args, **kwargs)

    monkeypatch.setattr(routes, "convert", slow_convert)
    yield started, release
    release.set()


def api_app(gate: Gate) -> FastAPI:
    app = FastAPI()
    app.include_router(build_router(lambda: None, ApiAccess(True), gate=gate))

    @app.get("/threads")
    async def threads(request: Request) -> dict[str, int]:  # worker threads busy now (the page's and events' pool)
        import anyio.to_thread

        return {"busy": anyio.to_thread.current_default_thread_limiter().borrowed_tokens}

    return app


def answer_of(raw: socket.socket) -> str:
    """A whole HTTP answer read from a raw connection (its head, then Content-Length bytes of body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = raw.recv(65536)
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        piece = raw.recv(65536)
        if not piece:
            break
        body += piece
    return (head + b"\r\n\r\n" + body).decode("latin-1")


def wait_until(condition, seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_over_the_cap_a_request_is_told_at_once_and_waiting_ones_hold_no_thread(blocked_conversions, shared_exr_dir):
    started, release = blocked_conversions
    gate = Gate(slots=1, max_in_flight=3)
    body = {"image": base64.b64encode((shared_exr_dir / F32).read_bytes()).decode()}
    answers: list[int] = []
    with served(api_app(gate)) as url:
        workers = [threading.Thread(target=lambda: answers.append(post(url + URL, body)[0])) for _ in range(3)]
        workers[0].start()
        assert started.acquire(timeout=60)  # the first converts (and waits there)
        for worker in workers[1:]:
            worker.start()
        wait_until(lambda: gate.in_flight == 3)
        began = time.monotonic()
        status, headers, answer = post(url + URL, body)
        assert status == 503 and headers.get("Retry-After", "").isdigit() and "busy" in answer["error"]
        assert time.monotonic() - began < 5  # at once, not after a wait
        with urllib.request.urlopen(url + "/threads", timeout=10) as reply:
            assert json.load(reply)["busy"] == 1  # the conversion's; the two waiting requests hold none
        release.set()
        for worker in workers:
            worker.join(60)
    assert answers == [200, 200, 200]
    assert gate.in_flight == 0 and gate.running == 0


def test_the_time_limit_runs_from_the_arrival(blocked_conversions, shared_exr_dir, monkeypatch: pytest.MonkeyPatch):
    started, release = blocked_conversions
    monkeypatch.setattr(routes, "BUSY_WAIT_SECONDS", 3.0)
    body = {"image": base64.b64encode((shared_exr_dir / F32).read_bytes()).decode()}
    first: list[int] = []
    with served(api_app(Gate(1, 4))) as url:
        worker = threading.Thread(target=lambda: first.append(post(url + URL, body)[0]))
        worker.start()
        assert started.acquire(timeout=60)
        # a body that takes 1.5 s to arrive leaves 1.5 s to wait for the turn: busy after ~3 s in all
        host, port = url.removeprefix("http://").split(":")
        data = json.dumps(body).encode()
        with socket.create_connection((host, int(port)), timeout=30) as raw:
            began = time.monotonic()
            raw.sendall(
                f"POST {URL} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n".encode()
                + data[:1000]
            )
            time.sleep(1.5)
            raw.sendall(data[1000:])
            answer = answer_of(raw)
            took = time.monotonic() - began
        assert answer.startswith("HTTP/1.1 503") and "retry-after" in answer.lower(), answer[:300]
        assert 2.7 < took < 4.4, took
        # a body that does not arrive in time at all: 408, the connection not held any longer
        with socket.create_connection((host, int(port)), timeout=30) as raw:
            raw.sendall(
                f"POST {URL} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n".encode()
                + data[:1000]
            )
            answer = answer_of(raw)
        assert answer.startswith("HTTP/1.1 408") and '"error"' in answer, answer[:300]
        release.set()
        worker.join(60)
    assert first == [200]


def test_no_posted_file_is_left_whatever_becomes_of_the_request(
    shared_exr_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    exr = (shared_exr_dir / F32).read_bytes()
    good = base64.b64encode(exr).decode()
    api = TestClient(api_app(Gate(1, 4)))
    posted = [
        api.post(URL, json={"image": good}),
        api.post(URL, files={"file": ("a.exr", exr)}, data={"options": '{"mask": true}'}),
        api.post(URL, json={"image": good, "colour": "red"}),
        api.post(URL, json={"image": base64.b64encode(exr[:5000]).decode()}),  # truncated: 422
        api.post(URL, json={"image": good[:-3] + "***"}),
        api.post(URL, json={"image": good, "options": {"depth_cutoff": 1, "near_cutoff": 5}}),
        api.post(f"{PREFIX}/histogram", json={"image": good}),
    ]
    assert [reply.status_code for reply in posted] == [200, 200, 400, 422, 400, 422, 200]
    app = FastAPI()
    app.include_router(build_router(lambda: None, ApiAccess(True, max_body_bytes=len(good) // 2)))
    limited = TestClient(app)

    def chunked():  # no Content-Length: the limit is found while the body streams in
        text = json.dumps({"image": good}).encode()
        for start in range(0, len(text), 65536):
            yield text[start : start + 65536]

    reply = limited.post(URL, content=chunked(), headers={"Content-Type": "application/json"})
    assert reply.status_code == 413 and "limit" in reply.json()["error"]
    with served(api_app(Gate(1, 4))) as url:  # a client that goes away half way through its body
        host, port = url.removeprefix("http://").split(":")
        data = json.dumps({"image": good}).encode()
        with socket.create_connection((host, int(port)), timeout=30) as raw:
            raw.sendall(
                f"POST {URL} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n".encode()
                + data[: len(data) // 2]
            )
            wait_until(lambda: any(tmp_path.glob("daz_depthmap-api-*")))
        wait_until(lambda: not any(tmp_path.glob("daz_depthmap-api-*")))
    assert list(tmp_path.glob("daz_depthmap-api-*")) == []
