"""The tab as a standalone app: ``python -m daz_depthmap.app [--port PORT] [--out-dir DIR] [--host H] [FILE.exr ...]``.

Serves the same tab the WebUI shows, with the same client files: every ``javascript/*.js`` as a ``<script>`` in the
page head and ``style.css`` at the end of the body, as the WebUI injects them (it wraps gradio's
``TemplateResponse``; we do the same, but only for pages of this app).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import errno
import importlib.metadata
import os
import signal
import socket
import sys
import sysconfig
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from .cli.options import add_max_pixels_argument
from .http.routes import ApiAccess, build_router, mount
from .params import DEFAULT_MAX_PIXELS, DepthParams
from .session.store import MAX_IDLE_SECONDS, MAX_MEMORY_BYTES
from .tab import compat
from .tab.contract import TabContext
from .tab.wiring import build_tab, session_store

#: The extension's root folder: ``javascript/`` and ``style.css`` live there, as the WebUI expects.
#: Where the installed package keeps ``javascript/`` and ``style.css`` (the wheel's data files), below the
#: installation's data folder.
ASSETS = "share/daz-depthmap"


def extension_root() -> Path:
    """The folder holding ``javascript/`` and ``style.css``: the repository (the WebUI extension, a checkout), or
    where a pip install put them."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "javascript").is_dir():
        return checkout
    try:
        dist = importlib.metadata.distribution("daz-depthmap")
        for entry in dist.files or ():
            if entry.name == "style.css" and ASSETS in entry.as_posix():
                return Path(str(dist.locate_file(entry))).parent
    except importlib.metadata.PackageNotFoundError:
        pass
    return Path(sysconfig.get_path("data")) / ASSETS


EXTENSION_ROOT = extension_root()


def client_files(root: Path = EXTENSION_ROOT) -> tuple[list[Path], list[Path]]:
    """The scripts (sorted by name, as the WebUI loads them) and stylesheets the WebUI would inject."""
    scripts = sorted((root / "javascript").glob("*.js"))
    styles = [root / "style.css"] if (root / "style.css").is_file() else []
    return scripts, styles


def page_additions(root: Path = EXTENSION_ROOT) -> tuple[str, str]:
    """HTML for the end of ``<head>`` (scripts) and of ``<body>`` (styles), inlined from the files."""
    scripts, styles = client_files(root)
    head = "".join(
        f'<script type="text/javascript">{path.read_text(encoding="utf-8")}\n//# sourceURL={path.name}\n</script>\n'
        for path in scripts
    )
    tail = "".join(f"<style>{path.read_text(encoding='utf-8')}</style>\n" for path in styles)
    return head, tail


def inject_client_files(blocks: gr.Blocks, head: str, tail: str) -> Callable[[], None]:
    """Add ``head``/``tail`` to the pages gradio serves for ``blocks`` (other apps are left alone).

    Returns a function that restores gradio's original template response.
    """
    templates = gr.routes.templates
    original = templates.TemplateResponse

    def template_response(*args: object, **kwargs: object) -> object:
        response = original(*args, **kwargs)
        context = args[1] if len(args) > 1 else kwargs.get("context", {})
        request = context.get("request") if isinstance(context, dict) else None
        app = getattr(request, "app", None)
        if getattr(app, "blocks", None) is blocks:
            response.body = response.body.replace(b"</head>", head.encode("utf-8") + b"</head>", 1)
            response.body = response.body.replace(b"</body>", tail.encode("utf-8") + b"</body>", 1)
            response.init_headers()
        return response

    templates.TemplateResponse = template_response

    def restore() -> None:
        templates.TemplateResponse = original

    return restore


def offline_theme() -> gr.themes.ThemeClass:
    """gradio's default look with the system's fonts (the default theme fetches Google fonts; we stay offline)."""
    sans = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
    mono = ["ui-monospace", "SFMono-Regular", "Consolas", "Liberation Mono", "monospace"]
    return gr.themes.Default(font=sans, font_mono=mono)


def app_context(
    output_dir: str | os.PathLike[str] = "outputs",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    defaults: DepthParams | None = None,
    session_memory_mb: float = MAX_MEMORY_BYTES / 2**20,
    session_idle_minutes: float = MAX_IDLE_SECONDS / 60,
) -> TabContext:
    """The standalone app's context, with its own store of sessions (closed, uploads deleted, at exit)."""
    ctx = TabContext(
        output_dir=Path(output_dir).resolve(),
        defaults=defaults or DepthParams(depth_cutoff="auto"),
        max_pixels=max_pixels,
    )
    sessions = session_store(ctx)
    sessions.max_memory_bytes = int(session_memory_mb * 2**20)
    sessions.max_idle_seconds = session_idle_minutes * 60
    atexit.register(sessions.close)
    return replace(ctx, sessions=sessions)


def build_app(files: Sequence[str | os.PathLike[str]] = (), ctx: TabContext | None = None) -> gr.Blocks:
    """The standalone Blocks: the tab, with ``files`` loaded into every new session, queue enabled."""
    blocks = build_tab(ctx or app_context(), initial_files=[Path(f) for f in files], theme=offline_theme())
    blocks.queue(api_open=False, **compat.queue_args(4))
    return blocks


def blocked_paths(output_dir: str | os.PathLike[str]) -> list[str]:
    """What gradio's file route (``/file=``) must not serve: the outputs folder, as given and resolved.

    It holds every user's saved maps, and gradio serves any file below the working folder (gradio 3) to any client
    that names it; a page downloads its own maps through copies in gradio's cache instead (see the tab's
    handlers). Folders named by ``GRADIO_BLOCKED_PATHS`` stay blocked too (a launch argument replaces that
    variable in gradio 4)."""
    given = [item.strip() for item in os.environ.get("GRADIO_BLOCKED_PATHS", "").split(",") if item.strip()]
    ours = [os.path.abspath(output_dir), str(Path(output_dir).resolve())]
    return list(dict.fromkeys([*given, *ours]))


@contextlib.contextmanager
def app_setup(blocks: gr.Blocks, setup: Callable[[Any], None]) -> Iterator[None]:
    """While launching ``blocks``: ``setup`` the FastAPI app gradio makes for them (our routes) before its server
    starts listening, so that the first client already finds them (and FastAPI caches an OpenAPI schema with them).

    The app also drops gradio's CORS middleware, as the WebUI does: gradio allows every origin (gradio 4 echoes the
    origin with credentials), so any page the user visits could drive the app's events from the user's browser."""
    routes = gr.routes.App
    original = routes.__dict__["create_app"]

    def create_app(made_for: gr.Blocks, *args: Any, **kwargs: Any) -> Any:
        app = original.__func__(made_for, *args, **kwargs)
        if made_for is blocks:
            app.user_middleware = [m for m in app.user_middleware if "CORSMiddleware" not in m.cls.__name__]
            app.middleware_stack = None  # built again, without it, at the first request
            setup(app)
        return app

    routes.create_app = staticmethod(create_app)
    try:
        yield
    finally:
        routes.create_app = original


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m daz_depthmap.app",
        description="Open the DAZ depth map tab in the browser, without the WebUI.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE.exr", help="depth files loaded into every new session")
    parser.add_argument("--port", type=int, default=7861, help="port to listen on (default 7861)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--out-dir", "--out_dir", type=Path, default=Path("outputs"), help="where PNGs are written (default ./outputs)"
    )
    add_max_pixels_argument(parser)
    parser.add_argument(
        "--api-auth",
        metavar="USER:PASSWORD[,USER:PASSWORD]",
        default=None,
        help="require these HTTP Basic credentials for the API (/daz-depthmap/v1/depth-map and /histogram; "
        "without: anyone who can reach the app may use it)",
    )
    parser.add_argument(
        "--session-memory-mb",
        type=float,
        default=MAX_MEMORY_BYTES / 2**20,
        help="memory all browser sessions' files may hold together before the least recently used are released "
        f"(default {MAX_MEMORY_BYTES // 2**20})",
    )
    parser.add_argument(
        "--session-idle-minutes",
        type=float,
        default=MAX_IDLE_SECONDS / 60,
        help=f"release a browser session's files after this long without use (default {MAX_IDLE_SECONDS // 60})",
    )
    return parser


def port_problem(host: str, port: int) -> str | None:
    """Why the app cannot listen on ``host:port`` (taken, or not allowed), said before gradio tries."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
            if os.name != "nt":
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
    except OSError as exc:
        why = "is busy (another program, or an earlier `make run`, listens there)"
        if exc.errno not in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            why = f"cannot be used ({exc.strerror or exc})"
        return f"port {port} on {host} {why}: pick another with `make run PORT={port + 1}` " f"(or `--port {port + 1}`)"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:  # credentials that cannot be read stop the start: never an open API by a typo
        credentials = ApiAccess.parse_credentials(args.api_auth)
    except ValueError as exc:
        print(f"error: argument --api-auth: {exc}", file=sys.stderr)
        return 2
    scripts, _ = client_files()
    if not scripts:
        print(f"error: the page's scripts are missing from {EXTENSION_ROOT}: reinstall daz-depthmap", file=sys.stderr)
        return 2
    problem = port_problem(args.host, args.port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    for name in args.files:
        if not Path(name).is_file():
            print(f"warning: {name}: file not found (each session will show this)")
    ctx = app_context(args.out_dir, args.max_pixels, None, args.session_memory_mb, args.session_idle_minutes)
    blocks = build_app(args.files, ctx)
    inject_client_files(blocks, *page_additions())
    print(f"DAZ depth map: http://{args.host}:{args.port}/  (outputs go to {Path(args.out_dir).resolve()})")
    access = ApiAccess(True, credentials, max_pixels=args.max_pixels)
    # stopped by a service manager or `kill` (SIGTERM) as by Ctrl+C: exit through the interpreter, so the exit
    # handlers delete the users' uploads and the API's posted files (a plain SIGTERM skips exit handlers)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with app_setup(blocks, lambda app: mount(app, build_router(lambda: ctx.sessions, access))):
        blocks.launch(
            server_name=args.host,
            server_port=args.port,
            show_api=False,
            quiet=True,
            prevent_thread_lock=True,
            blocked_paths=blocked_paths(args.out_dir),
        )
    blocks.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
