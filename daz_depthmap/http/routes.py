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

Every route refuses (403) a request another site's page sends (an ``Origin`` other than the server's own); pages of
the server and scripts (which send no ``Origin``) are served. Mounted with :func:`mount`, their answers carry no CORS
header whatever the host's CORS middleware says (gradio's allows every origin).

For scripts (the API)
---------------------
``POST …/depth-map`` and ``POST …/histogram`` (:mod:`daz_depthmap.http.api`): an EXR as base64 in JSON (like the
WebUI's own API) or as a multipart upload. They exist only when the API is on (the WebUI's ``--api``) and need
HTTP Basic credentials when the server has them (``--api-auth``). Every error is JSON with a 4xx (or 503) status:
``{"error": "NAME: what is wrong"}``.

What one request may cost the server is bounded: its body streams into a private temporary file as it arrives
(:mod:`daz_depthmap.http.body`: never held in memory, refused with 413 as soon as it is over the limit, the EXR's
magic checked from its first bytes); at most :data:`MAX_IN_FLIGHT` requests are in at once, those over the cap told
503 with ``Retry-After`` at once; they wait for their turn on the event loop, holding no worker thread, and only
:data:`CONVERSION_SLOTS` converts at a time (:mod:`daz_depthmap.http.gate`), so the tab's page, its events and
previews keep their threads and a core; a request must get its turn within :data:`BUSY_WAIT_SECONDS` of its arrival.
The answer is written a slice at a time, and the memory a conversion freed is given back to the system.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import secrets
import struct
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from ..output.png import encode_png
from ..params import DEFAULT_MAX_PIXELS
from ..session.live import MAX_REQUEST_BYTES, live_update, parse_request
from ..session.store import _trim_heap as trim_heap
from .api import (
    DEFAULT_MAX_BODY_BYTES,
    ApiError,
    convert,
    histogram_job,
    histogram_report,
    map_job,
    reply_pieces,
)
from .body import MAX_NESTING, ExrSink, JsonBody, MultipartBody, nesting
from .gate import Gate, GateTimeout
from .schema import DepthMapRequest, DepthMapUpload, HistogramRequest, HistogramUpload, request_body

if TYPE_CHECKING:
    from ..session.store import SessionStore

PREFIX = "/daz-depthmap/v1"
#: The most a release request may carry (a token is 24 characters).
_MAX_TOKEN = 128
#: How long an API request may take from its arrival until its conversion starts (its body arriving, its wait for
#: its turn) before it is told the server is busy.
BUSY_WAIT_SECONDS = 120.0
#: Conversions at a time (the tab's previews keep a core), and API requests in flight in all.
CONVERSION_SLOTS = 1
MAX_IN_FLIGHT = 4
#: What a busy answer's ``Retry-After`` says, in seconds.
RETRY_AFTER_SECONDS = 5
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
    """A small request body (the page's requests), refused (413) as soon as it is known to be over ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the request is {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the request is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class _Posted:
    """An API request's fields, and how its EXR came (into ``sink``)."""

    fields: dict[str, Any]
    sink: ExrSink
    form: bool  # a multipart upload (else JSON)
    image_given: bool  # JSON: 'image' came as a non-empty string; multipart: a 'file' part came

    def exr(self, name: str) -> Path:
        """The posted EXR's temporary file; :class:`ApiError` when it is not one."""
        if not self.image_given:
            raise ApiError(400, f"{name}: 'image' must be the EXR file as a base64 string")
        return self.sink.check(name)

    def job_fields(self) -> dict[str, Any]:
        """The fields the job reads (the image is the sink's)."""
        return {key: value for key, value in self.fields.items() if key != "image" or not self.form}


async def receive(request: Request, limit: int, sink: ExrSink, form_fields: tuple[str, ...]) -> _Posted:
    """Read an API request's body as it arrives, its EXR into ``sink``; 413 as soon as it is over ``limit`` bytes.

    ``form_fields``: the multipart fields whose text is JSON (options, a recipe, true/false, numbers)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the request is {int(declared):,} bytes; the limit is {limit:,}")
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    reader: JsonBody | MultipartBody
    if kind == "multipart/form-data":
        reader = MultipartBody(content_type, sink)
    elif kind in ("application/json", ""):
        reader = JsonBody(sink)
    else:
        raise ApiError(415, f"send JSON (application/json) or a multipart upload, not {kind}")
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"the request is over the limit of {limit:,} bytes")
            reader.feed(chunk)
    except ClientDisconnect:
        raise ApiError(400, "the client went away before its request arrived") from None
    if isinstance(reader, JsonBody):
        fields = reader.close()
        sink.finish()
        return _Posted(fields, sink, False, reader.image_seen and reader.image_chars > 0)
    reader.close()
    sink.finish()
    if reader.filename is None:
        raise ApiError(400, "a multipart request needs the EXR as the file field 'file'")
    fields = {"name": reader.filename or "upload.exr"}
    for key, value in reader.items:
        if key in form_fields:
            if nesting(value) > MAX_NESTING:
                raise ApiError(400, f"the form field {key!r} is nested too deeply (over {MAX_NESTING} levels)")
            try:
                fields[key] = json.loads(value)
            except (ValueError, RecursionError):
                raise ApiError(400, f"the form field {key!r} must be JSON, got {value[:40]!r}") from None
        else:
            fields[key] = value
    return _Posted(fields, sink, True, True)


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
    gate: Gate | None = None,
) -> APIRouter:
    """The routes of one server; ``sessions()`` is its store of sessions now (the WebUI's Reload UI makes a new
    one, the app keeps the same), or ``None`` while there is none. ``access`` (or a function giving it at each
    request) says whether the API is on and who may use it; ``api=False`` leaves the API's routes out. ``gate``:
    how many API requests are taken at once and converted at a time (:data:`CONVERSION_SLOTS`,
    :data:`MAX_IN_FLIGHT`)."""
    router = APIRouter(prefix=PREFIX, route_class=_JsonErrorRoute)
    gate = gate or Gate(CONVERSION_SLOTS, MAX_IN_FLIGHT)

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
        data = parse_request(body) if nesting(body) <= MAX_NESTING else None  # json's recursion stays untried
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

    def api_route(
        path: str, form_fields: tuple[str, ...], prepare: Callable[..., Callable[[], Any]], docs: tuple[Any, ...]
    ) -> None:
        summary, description, json_model, form_model = docs

        @router.post(path, summary=summary, description=description, openapi_extra=request_body(json_model, form_model))
        async def handle(request: Request) -> Response:
            arrived = time.monotonic()  # the time limit runs from here, whatever the request then waits for
            settings = access_now()
            if not settings.enabled:
                return _error(404, "the API is off: start the WebUI with --api")
            if not _authorised(request, settings):
                return _error(401, "wrong or missing credentials (--api-auth)", {"WWW-Authenticate": "Basic"})
            if not gate.enter():  # the body is read and dropped first: a client still sending would miss the answer
                await _drain(request, settings.max_body_bytes, arrived + BUSY_WAIT_SECONDS)
                return _busy(f"the server is busy: {gate.max_in_flight} requests are in already; try again")
            sink = ExrSink()
            try:
                deadline = arrived + BUSY_WAIT_SECONDS
                try:
                    posted = await asyncio.wait_for(
                        receive(request, settings.max_body_bytes, sink, form_fields), deadline - time.monotonic()
                    )
                except asyncio.TimeoutError:
                    return _error(408, f"the request did not arrive within {BUSY_WAIT_SECONDS:.0f} seconds")
                work = prepare(posted, settings)  # every check of the fields and the file, before the wait
                try:
                    async with gate.turn(deadline):
                        reply = await run_in_threadpool(_let_go_after, work)
                except GateTimeout:
                    return _busy(f"the server is busy converting other files (waited {BUSY_WAIT_SECONDS:.0f} s)")
                return StreamingResponse(_streamed(reply), media_type="application/json", headers=_NO_STORE)
            except ApiError as exc:
                return _error(exc.status, exc.message)
            finally:
                sink.discard()
                gate.leave()

    def depth_map(posted: _Posted, settings: ApiAccess) -> Callable[[], dict[str, Any]]:
        request = map_job(posted.job_fields())
        exr = posted.exr(request.name)
        return lambda: convert(exr, request, settings.max_pixels, encoded=True)

    def histogram(posted: _Posted, settings: ApiAccess) -> Callable[[], dict[str, Any]]:
        name, channel, invert = histogram_job(posted.job_fields())
        exr = posted.exr(name)
        return lambda: histogram_report(exr, name, channel, invert, settings.max_pixels)

    if api:
        api_route(
            "/depth-map",
            ("options", "recipe", "regions", "split_parts", "min_area"),
            depth_map,
            (
                "A depth EXR to ControlNet depth map",
                "The depth map (and mask, region map) of an EXR: base64 PNGs, the command line's bytes, what "
                "ControlNet's API unit takes as `image`; with the window, stats, suggested cutoff, bands and warnings. "
                "Send JSON, or a multipart upload (the EXR as `file`).",
                DepthMapRequest,
                DepthMapUpload,
            ),
        )
        api_route(
            "/histogram",
            ("invert",),
            histogram,
            (
                "A depth EXR's histogram and suggested cutoff",
                "The 20-bucket advice in numbers, the 256-bin histogram, the suggested cutoff and the gap it found. "
                "Send JSON, or a multipart upload (the EXR as `file`).",
                HistogramRequest,
                HistogramUpload,
            ),
        )
    ours = list(router.routes)

    # last: whatever else comes under the prefix (another method, another path) is answered in our words too
    @router.api_route("/{rest:path}", methods=list(_METHODS), include_in_schema=False)
    async def elsewhere(rest: str, request: Request) -> Response:
        path = request.url.path
        for route in ours:
            if isinstance(route, APIRoute) and route.path_regex.match(path):
                allowed = ", ".join(sorted(route.methods or ()))
                return _error(405, f"{request.method} is not allowed here: use {allowed}", {"Allow": allowed})
        return _error(404, f"no such route: {path}")

    return router


_NO_STORE = {"Cache-Control": "no-store"}
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class _JsonErrorRoute(APIRoute):
    """Our routes answer every refusal as ``{"error": ...}``, FastAPI's own too (its request validation and
    ``HTTPException`` answer ``{"detail": ...}``)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            foreign = cross_site(request)
            if foreign is not None:
                return _error(403, f"a cross-site request (from {foreign}): only pages of this server may use this")
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _error(400, f"the request does not fit this route: {_validation_problem(exc)}")
            except HTTPException as exc:
                return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

        return route


def cross_site(request: Request | Headers, scheme: str | None = None) -> str | None:
    """The ``Origin`` of a request sent by another site's page (``None``: same origin, or no ``Origin``, as scripts
    send). The server's own origin is the scheme, host and port the request was sent to (its ``Host``)."""
    headers = request if isinstance(request, Headers) else request.headers
    origin = headers.get("origin")
    if origin is None:
        return None
    scheme = scheme or (request.url.scheme if isinstance(request, Request) else "http")
    own = _origin(f"{scheme}://{headers.get('host', '')}")
    theirs = _origin(origin)
    return None if own is not None and own == theirs else _printable(origin)


def _origin(text: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin, the scheme's default port filled in; ``None`` when it is none."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def _printable(origin: str) -> str:
    return repr(origin[:100]) if any(ord(c) < 32 or ord(c) > 126 for c in origin[:100]) else origin[:100]


class _NoCrossSiteHeaders:
    """The outermost layer of an app with our routes: their answers carry no ``Access-Control-*`` header whatever
    CORS middleware the host has (gradio 3 allows every origin, gradio 4 echoes the origin with credentials), and a
    cross-site preflight to them is refused before such middleware can allow it. Other paths pass untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path.startswith(PREFIX + "/") or path.startswith(scope.get("root_path", "") + PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            foreign = cross_site(headers, scope.get("scheme", "http")) or "another site"
            await _error(403, f"a cross-site request (from {foreign}): only pages of this server may use this")(
                scope, receive, send
            )
            return

        async def without_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (key, value) for key, value in message.get("headers", ()) if not key.lower().startswith(_CORS)
                ]
            await send(message)

        await self.app(scope, receive, without_cors)


_CORS = b"access-control-"


def mount(app: Any, router: APIRouter) -> None:
    """Add ``router``'s routes to ``app`` (a FastAPI app: the standalone app's, the WebUI's), their answers kept free
    of the host's CORS headers (:class:`_NoCrossSiteHeaders`, put around whatever middleware the app builds)."""
    app.include_router(router)
    if getattr(app, "_daz_depthmap_shielded", False):
        return
    app._daz_depthmap_shielded = True
    build = app.build_middleware_stack

    def build_shielded() -> Any:
        return _NoCrossSiteHeaders(build())

    app.build_middleware_stack = build_shielded
    if getattr(app, "middleware_stack", None) is not None:  # built already (a server that answers already)
        app.middleware_stack = _NoCrossSiteHeaders(app.middleware_stack)


def _validation_problem(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}"


def _busy(message: str) -> JSONResponse:
    return _error(503, message, {"Retry-After": str(RETRY_AFTER_SECONDS)})


async def _drain(request: Request, limit: int, deadline: float) -> None:
    """Read and drop a request's body (up to ``limit`` bytes, until ``deadline``), so that a client which sends it
    all before it reads gets the answer (a server that closes a connection with unread bytes resets it). Not for a
    client that waits for ``100 Continue``: it sends nothing until asked."""
    if "100-continue" in request.headers.get("expect", "").lower():
        return

    async def drop() -> None:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return

    with contextlib.suppress(asyncio.TimeoutError, ClientDisconnect):
        await asyncio.wait_for(drop(), max(0.0, deadline - time.monotonic()))


def _let_go_after(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a conversion (in a worker thread), then give the memory it freed back to the system."""
    try:
        return work()
    finally:
        trim_heap()


async def _streamed(reply: dict[str, Any]) -> AsyncIterator[bytes]:
    for piece in reply_pieces(reply):
        yield piece
