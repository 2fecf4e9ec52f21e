"""HTTP routes under ``/daz-depthmap/v1/``, one implementation for the standalone app and the WebUI (mounted on
their FastAPI apps).

``POST /daz-depthmap/v1/sessions/{token}/release`` releases that browser session's files at once:
the page sends it when it is closed, so a long-running server does not keep what nobody can use any more. The
token is unguessable and known only to its own page; an unknown token changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Response

if TYPE_CHECKING:
    from .session.store import SessionStore

PREFIX = "/daz-depthmap/v1"
#: The most a release request may carry (a token is 24 characters).
_MAX_TOKEN = 128


def build_router(sessions: Callable[[], SessionStore | None]) -> APIRouter:
    """The routes of one server; ``sessions()`` is its store of sessions now (the WebUI's Reload UI makes a new
    one, the app keeps the same), or ``None`` while there is none."""
    router = APIRouter(prefix=PREFIX)

    @router.post("/sessions/{token}/release", status_code=204)
    def release(token: str) -> Response:
        store = sessions()
        if store is not None and 0 < len(token) <= _MAX_TOKEN:
            store.release(token)
        return Response(status_code=204)

    return router
