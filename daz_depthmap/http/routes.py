"""HTTP routes under ``/daz-depthmap/v1/``, one implementation for the standalone app and the WebUI (mounted on
their FastAPI apps).

For the tab's page
------------------
``POST …/sessions/{token}/release`` releases that browser session's files at once: the page sends it when it is
closed. ``POST …/preview`` is the live preview's fast path: the page's live request (``session``, ``key``,
``view``, ``seq``, ``far``, ``near``, bands) applied to that session as the gradio event would
(:func:`~daz_depthmap.session.live.live_update`), answered with the reply and the preview PNGs in one binary body,
without gradio's queue, its per-update page work and its temporary files (see bench/RESULTS.md). Sessions are
addressed only by their unguessable per-page token; no file is addressable by path. With the server's login on
(gradio ``auth``, the WebUI's ``--gradio-auth``) both need the logged-in user's cookie.

For scripts (the API)
---------------------
``POST …/depth-map`` and ``POST …/histogram`` (:mod:`daz_depthmap.http.api`): an EXR as base64 in JSON (like the
WebUI's own API) or as a multipart upload. They exist only when the API is on (the WebUI's ``--api``) and need
HTTP Basic credentials when the server has them (``--api-auth``). Bodies are limited before they are read, the EXR
magic is checked before anything decodes, one conversion runs at a time (a huge request cannot starve the tab's
previews), and every error is JSON with a 4xx status: ``{"error": "NAME: what is wrong"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..output.png import encode_png
from ..params import DEFAULT_MAX_PIXELS
from ..session.live import MAX_REQUEST_BYTES, live_update, parse_request
from .api import (
    DEFAULT_MAX_BODY_BYTES,
    ApiError,
    check_exr,
    convert,
    decode_image,
    histogram_job,
    histogram_report,
    map_job,
    with_exr_file,
)

if TYPE_CHECKING:
    from ..session.store import SessionStore

PREFIX = "/daz-depthmap/v1"
#: The most a release request may carry (a token is 24 characters).
_MAX_TOKEN = 128
#: How long an API request waits for the one conversion running before it is told the server is busy.
BUSY_WAIT_SECONDS = 120.0
#: The media type of the preview route's answer: a little-endian uint32 length, the reply JSON, then the PNGs.
PREVIEW_MEDIA_TYPE = "application/x-daz-depthmap-preview"


@dataclass(frozen=True)
class ApiAccess:
    """Who may use the API: ``enabled`` (the WebUI's ``--api``), and ``credentials`` user -> password (its
    ``--api-auth``; empty: no login)."""

    enabled: bool = False
    credentials: Mapping[str, str] = field(default_factory=dict)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS

    @staticmethod
    def parse_credentials(text: str | None) -> dict[str, str]:
        """``user:password,user2:password2`` (the WebUI's ``--api-auth``) as a mapping; ``None``: no login.

        Raises ``ValueError`` naming the entry (never its password) when any entry is not ``USER:PASSWORD`` with
        both parts non-empty, as the WebUI refuses to start on such a value: a login left out by a typo must not
        leave the API open."""
        if text is None:
            return {}
        entries = text.split(",")
        credentials: dict[str, str] = {}
        for number, entry in enumerate(entries, start=1):
            where = f"entry {number} of {len(entries)}" if len(entries) > 1 else "the value"
            if not entry.strip():
                raise ValueError(f"{where} is empty; give USER:PASSWORD[,USER:PASSWORD...]")
            if ":" not in entry:
                raise ValueError(f"{where} has no ':' between the user and the password (USER:PASSWORD)")
            user, password = (part.strip() for part in entry.split(":", 1))
            if not user:
                raise ValueError(f"{where} has no user before ':' (USER:PASSWORD)")
            if not password:
                raise ValueError(f"{where} (user {user!r}) has an empty password")
            credentials[user] = password
        return credentials


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))


def logged_in(request: Request) -> bool:
    """True when the server has no login (gradio ``auth``) or the request carries a logged-in user's cookie.

    gradio 3 names its cookie ``access-token`` (``-unsecure`` over http), gradio 4 appends the app's cookie id."""
    app = request.app
    if getattr(app, "auth", None) is None:
        return True
    tokens = getattr(app, "tokens", None) or {}
    cookie_id = getattr(app, "cookie_id", None)
    names = ["access-token", "access-token-unsecure"]
    if cookie_id:
        names += [f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"]
    return any(request.cookies.get(name) in tokens for name in names if request.cookies.get(name))


def _authorised(request: Request, access: ApiAccess) -> bool:
    """HTTP Basic credentials matching one of ``access.credentials`` (compared in constant time)."""
    if not access.credentials:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        return False
    expected = access.credentials.get(user)
    return expected is not None and secrets.compare_digest(password.encode(), expected.encode())


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is known to be larger than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the request is {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the request is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # starlette's form parser reads the body from here once the stream is consumed
    return body


async def _posted(request: Request, limit: int, form_fields: tuple[str, ...]) -> tuple[dict[str, Any], bytes | None]:
    """A request's fields and, for a multipart upload, the EXR's bytes (JSON requests carry it as base64)."""
    body = await read_body(request, limit)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "a multipart request needs the EXR as the file field 'file'")
        data = await upload.read()
        fields: dict[str, Any] = {"name": upload.filename or "upload.exr"}
        for key, value in form.multi_items():
            if key == "file" or not isinstance(value, str):
                continue
            if key in form_fields:  # JSON-valued fields: options, recipe, true/false, numbers
                try:
                    fields[key] = json.loads(value)
                except ValueError:
                    raise ApiError(400, f"the form field {key!r} must be JSON, got {value[:40]!r}") from None
            else:
                fields[key] = value
        return fields, data
    if kind not in ("application/json", ""):
        raise ApiError(415, f"send JSON (application/json) or a multipart upload, not {kind}")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise ApiError(400, "the request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return parsed, None


def _exr_bytes(fields: Mapping[str, Any], data: bytes | None, name: str) -> bytes:
    if data is None:
        return decode_image(fields.get("image"), name)
    check_exr(data, name)
    return data


def preview_body(reply: dict[str, Any], images: list[tuple[str, Any]]) -> bytes:
    """The preview route's answer: uint32 LE length of the reply JSON, the JSON, then each PNG in turn (their
    names and byte counts are in the reply's ``images``)."""
    encoded = [(name, encode_png(image)) for name, image in images]
    reply = {**reply, "images": [{"name": name, "bytes": len(png)} for name, png in encoded]}
    text = json.dumps(reply).encode("utf-8")
    return b"".join([struct.pack("<I", len(text)), text, *(png for _, png in encoded)])


def build_router(
    sessions: Callable[[], SessionStore | None],
    access: ApiAccess | Callable[[], ApiAccess] | None = None,
    api: bool = True,
) -> APIRouter:
    """The routes of one server; ``sessions()`` is its store of sessions now (the WebUI's Reload UI makes a new
    one, the app keeps the same), or ``None`` while there is none. ``access`` (or a function giving it at each
    request) says whether the API is on and who may use it; ``api=False`` leaves the API's routes out."""
    router = APIRouter(prefix=PREFIX)
    working = threading.BoundedSemaphore(1)  # one conversion at a time: the tab's previews keep a core

    def access_now() -> ApiAccess:
        return access() if callable(access) else access or ApiAccess()

    @router.post("/sessions/{token}/release", status_code=204)
    def release(token: str, request: Request) -> Response:
        store = sessions()
        if store is not None and 0 < len(token) <= _MAX_TOKEN and logged_in(request):
            store.release(token)
        return Response(status_code=204)

    @router.post("/preview")
    async def preview(request: Request) -> Response:
        if not logged_in(request):
            return _error(401, "log in to the WebUI first")
        try:
            body = await read_body(request, MAX_REQUEST_BYTES)
        except ApiError as exc:
            return _error(exc.status, exc.message)
        data = parse_request(body)
        store = sessions()
        if data is None:
            return _error(400, "the request must be a live preview request (a JSON object)")
        token = data.get("session")
        session = store.get(token, touch=True) if store is not None and isinstance(token, str) else None
        if session is None:  # unknown or released: the page asks through gradio, which says what happened
            return _error(404, "no such session on this server (released, or the server restarted)")

        def work() -> bytes:
            update = live_update(session.workspace, data)
            images: list[tuple[str, Any]] = []
            if update.preview is not None and update.shown is not None:
                images.append(("depth", update.preview.picture))
                if update.shown.params.mask:
                    images.append(("mask", update.preview.mask))
            return preview_body(update.reply, images)

        return Response(await run_in_threadpool(work), media_type=PREVIEW_MEDIA_TYPE, headers=_NO_STORE)

    def api_route(path: str, form_fields: tuple[str, ...], job: Callable[..., Any]) -> None:
        @router.post(path)
        async def handle(request: Request) -> Response:
            settings = access_now()
            if not settings.enabled:
                return _error(404, "the API is off: start the WebUI with --api")
            if not _authorised(request, settings):
                return _error(401, "wrong or missing credentials (--api-auth)", {"WWW-Authenticate": "Basic"})
            try:
                fields, data = await _posted(request, settings.max_body_bytes, form_fields)
                return JSONResponse(await run_in_threadpool(job, fields, data, settings), headers=_NO_STORE)
            except ApiError as exc:
                return _error(exc.status, exc.message)

    def depth_map(fields: dict[str, Any], data: bytes | None, settings: ApiAccess) -> dict[str, Any]:
        request = map_job({k: v for k, v in fields.items() if k != "image"} if data is not None else fields)
        exr = _exr_bytes(fields, data, request.name)
        return _one_at_a_time(
            working, lambda: with_exr_file(exr, request.name, lambda p: convert(p, request, settings.max_pixels))
        )

    def histogram(fields: dict[str, Any], data: bytes | None, settings: ApiAccess) -> dict[str, Any]:
        name, channel, invert = histogram_job({k: v for k, v in fields.items() if k != "image"} if data else fields)
        exr = _exr_bytes(fields, data, name)
        report = lambda p: histogram_report(p, name, channel, invert, settings.max_pixels)  # noqa: E731
        return _one_at_a_time(working, lambda: with_exr_file(exr, name, report))

    if api:
        api_route("/depth-map", ("options", "recipe", "regions", "split_parts", "min_area"), depth_map)
        api_route("/histogram", ("invert",), histogram)
    return router


_NO_STORE = {"Cache-Control": "no-store"}


def _one_at_a_time(lock: threading.BoundedSemaphore, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` when no other conversion runs; a request that waits too long is told the server is busy."""
    if not lock.acquire(timeout=BUSY_WAIT_SECONDS):
        raise ApiError(503, "the server is busy converting other files; try again")
    try:
        return work()
    finally:
        lock.release()
