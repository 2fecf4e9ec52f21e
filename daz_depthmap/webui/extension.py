"""The WebUI boundary: the only module that imports the AUTOMATIC1111 WebUI's ``modules``.

It turns the WebUI's settings and paths into plain values and a :class:`~daz_depthmap.tab.contract.TabContext`, keeps
the components "Send to ControlNet" and "Send to Regional Prompter" need (reported by ``on_after_component``) and
adds the extension's section to the Settings page. Every lookup tolerates a WebUI without the piece (older versions,
``--nowebui``) and falls back to the defaults. ``scripts/daz_depthmap.py`` registers the callbacks of one
:class:`Extension`.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import inspect
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from modules import script_callbacks  # noqa: F401  (re-exported: scripts/daz_depthmap.py registers through it)

from ..params import BITS, OPTION, DepthParams
from ..session.store import SessionStore
from ..tab.contract import TabContext, TabHandles
from .controlnet import Detected, detect
from .controlnet.a1111 import SdWebuiControlNet
from .controlnet.base import KEEP_MODEL
from .controlnet.forge import CanvasCollector, ForgeControlNet
from .controls import GenerationControls
from .regional_prompter import ActiveBoxCollector, RegionalPrompter
from .send.canvas_set import SetSendBlock
from .send.depth import SendBlock, SendSettings
from .send.regions import RegionSendBlock
from .targets import ComponentIndex

log = logging.getLogger(__name__)

TAB_TITLE = "DAZ Depth"
TAB_ID = "daz_depthmap"  # the WebUI wraps the tab in #tab_daz_depthmap
SECTION = ("daz_depthmap", "DAZ Depth")
OUTPUT_SUBFOLDER = "daz_depthmap"

KEY_OUTPUT_DIR = "daz_depthmap_output_dir"
KEY_BITS = "daz_depthmap_bits"
KEY_DEPTH_MODEL = "daz_depthmap_depth_model"
KEY_SETS_MODEL = "daz_depthmap_send_sets_model"


@dataclass(frozen=True)
class WebUISettings:
    """The extension's settings as plain values."""

    output_dir: Path
    bits: int = 8
    depth_model: str = KEEP_MODEL
    set_preprocessor_model: bool = True


# ------------------------------------------------------------------------------------------------------------------
# Reading the WebUI


def api_access() -> Any:
    """The API's access as the WebUI's command line sets it: on with ``--api``, HTTP Basic with ``--api-auth``;
    read at each request (the options are the WebUI's, known once it has started)."""
    from ..http.routes import ApiAccess

    opts = getattr(_shared(), "cmd_opts", None)
    try:
        credentials = ApiAccess.parse_credentials(getattr(opts, "api_auth", None) or None)
    except ValueError:  # said when the routes were mounted; never served without the login asked for
        return ApiAccess(False)
    return ApiAccess(bool(getattr(opts, "api", False)), credentials)


def api_auth_problem() -> str | None:
    """Why the WebUI's ``--api-auth`` cannot be read (``None``: it can, or there is none)."""
    from ..http.routes import ApiAccess

    try:
        ApiAccess.parse_credentials(getattr(getattr(_shared(), "cmd_opts", None), "api_auth", None) or None)
    except ValueError as exc:
        return str(exc)
    return None


def _shared() -> Any | None:
    try:
        from modules import shared
    except ImportError:
        return None
    return shared


def option(key: str, default: Any) -> Any:
    """A setting's value; ``default`` when the WebUI has no such setting or no settings at all."""
    data = getattr(getattr(_shared(), "opts", None), "data", None)
    return data.get(key, default) if isinstance(data, dict) else default


def hidden_tabs() -> frozenset[str]:
    """Titles of the tabs the user hid (setting ``hidden_tabs``), in lower case; their components are never on the
    page. Lower case: AUTOMATIC1111 titles its tabs "txt2img"/"img2img", Forge "Txt2img"/"Img2img"."""
    value = option("hidden_tabs", [])
    return frozenset(str(v).lower() for v in value) if isinstance(value, (list, tuple, set, frozenset)) else frozenset()


def is_forge() -> bool:
    """Whether this WebUI is Forge (lllyasviel/stable-diffusion-webui-forge): it has a ``modules_forge`` package."""
    if "modules_forge" in sys.modules:
        return True
    try:
        return importlib.util.find_spec("modules_forge") is not None
    except (ImportError, ValueError):
        return False


def data_path() -> Path:
    """The WebUI's data folder (``--data-dir``); the working directory when unknown."""
    for name in ("modules.paths_internal", "modules.paths"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if getattr(module, "data_path", None):
            return Path(module.data_path)
    return Path.cwd()


def default_output_dir() -> Path:
    """``outputs/daz_depthmap`` in the WebUI's outputs folder."""
    try:
        from modules import paths_internal

        base = getattr(paths_internal, "default_output_dir", None)
    except ImportError:
        base = None
    return Path(base or data_path() / "outputs") / OUTPUT_SUBFOLDER


def resolve_output_dir(value: Any, data_dir: Path, default: Path) -> Path:
    """The output folder a setting names: ``default`` when empty, relative paths inside ``data_dir``."""
    text = str(value or "").strip()
    if not text:
        return Path(os.path.abspath(default))
    path = Path(text).expanduser()
    return Path(os.path.abspath(path if path.is_absolute() else data_dir / path))


def _bits(value: Any) -> int:
    try:
        bits = int(value)
    except (TypeError, ValueError):
        return 8
    return bits if bits in BITS else 8


def read_settings() -> WebUISettings:
    """The extension's settings now (defaults where the WebUI has none)."""
    model = option(KEY_DEPTH_MODEL, KEEP_MODEL)
    return WebUISettings(
        output_dir=resolve_output_dir(option(KEY_OUTPUT_DIR, ""), data_path(), default_output_dir()),
        bits=_bits(option(KEY_BITS, OPTION["bits"].default)),
        depth_model=model if isinstance(model, str) and model else KEEP_MODEL,
        set_preprocessor_model=bool(option(KEY_SETS_MODEL, True)),
    )


def _dirs_visible() -> bool:
    """False with ``--hide-ui-dir-config``: path settings are then hidden, as the WebUI does with its own."""
    return not getattr(getattr(_shared(), "cmd_opts", None), "hide_ui_dir_config", False)


def _described(info: Any, text: str | None = None, reload: bool = False) -> Any:
    if text and hasattr(info, "info"):
        info = info.info(text)
    if reload and hasattr(info, "needs_reload_ui"):
        info = info.needs_reload_ui()
    return info


# ------------------------------------------------------------------------------------------------------------------
# The extension


#: The oldest gradio the tab is built for: the one of AUTOMATIC1111 WebUI 1.6.
MIN_GRADIO = (3, 41)


def too_old() -> str | None:
    """Why this WebUI is too old for the tab, or ``None``."""
    import gradio

    try:
        version = tuple(int(part) for part in gradio.__version__.split(".")[:2])
    except ValueError:
        return None
    if version >= MIN_GRADIO:
        return None
    return (
        f"DAZ Depth needs the AUTOMATIC1111 WebUI 1.6 or newer (gradio 3.41 or newer); this one has gradio "
        f"{gradio.__version__}: update the WebUI, or use the command line (python -m daz_depthmap)"
    )


def register(hook: Callable[..., Any], callback: Callable[..., Any], name: str) -> None:
    """Register ``callback`` with a ``script_callbacks.on_*`` hook, named where the WebUI supports names (1.8 and
    newer; older versions take the callback alone)."""
    try:
        named = "name" in inspect.signature(hook).parameters
    except (TypeError, ValueError):
        named = False
    if named:
        hook(callback, name=name)
    else:
        hook(callback)


class Extension:
    """The extension inside one WebUI process; ``scripts/daz_depthmap.py`` makes one each time it is loaded."""

    def __init__(self) -> None:
        self.components = ComponentIndex(
            [SdWebuiControlNet.WANTED, ForgeControlNet.WANTED, GenerationControls.WANTED, RegionalPrompter.WANTED]
        )
        self.rp_boxes = ActiveBoxCollector(self.components)
        self.canvases = CanvasCollector(self.components)
        self.send_block: SendBlock | None = None  # the one in the tab built last
        self.region_block: RegionSendBlock | None = None
        self.set_block: SetSendBlock | None = None
        self.sessions: SessionStore | None = None  # the users' files of the page built last

    def register(self, callbacks: Any) -> None:
        """Register the extension's callbacks with the WebUI's ``script_callbacks`` (once per load of
        ``scripts/daz_depthmap.py``). A WebUI older than 1.6 gets one log line saying so."""
        problem = too_old()
        if problem:
            log.warning(problem)
        register(callbacks.on_before_ui, self.forget_page, "forget_page")
        register(callbacks.on_after_component, self.collect_component, "collect_component")
        register(callbacks.on_ui_settings, self.add_settings, "settings")
        register(callbacks.on_ui_tabs, self.tabs, "tab")
        register(callbacks.on_app_started, self.add_routes, "routes")
        register(callbacks.on_app_started, self.block_outputs, "block_outputs")
        atexit.register(self.close_sessions)  # the WebUI stops: the users' uploads go with it

    def close_sessions(self) -> None:
        """Release every session of the page built last and delete its uploads."""
        if self.sessions is not None:
            self.sessions.close()
            self.sessions = None

    # on_before_ui: Reload UI builds a new page; the components of the old one are gone, and its sessions too.
    def forget_page(self) -> None:
        self.components.clear()
        self.rp_boxes = ActiveBoxCollector(self.components)
        self.canvases = CanvasCollector(self.components)
        self.send_block = None
        self.region_block = None
        self.set_block = None
        self.close_sessions()

    # on_after_component
    def collect_component(self, component: Any, **kwargs: Any) -> None:
        self.rp_boxes.see(component, kwargs.get("label"))
        self.canvases.see(component)
        self.components.add(component)

    # on_app_started: the routes read the store of the page built last (Reload UI builds a new one)
    def add_routes(self, _demo: Any, app: Any) -> None:
        from ..http.routes import build_router, mount

        problem = api_auth_problem()
        if problem:  # the WebUI refuses such a value itself; should one get here, the API stays unmounted
            log.error("DAZ Depth: --api-auth cannot be read (%s): the depth map API is not mounted", problem)
        mount(app, build_router(lambda: self.sessions, api_access, api=problem is None))

    # on_app_started: the page built last serves its files (Reload UI builds a new one, and reads the setting again)
    def block_outputs(self, demo: Any, _app: Any) -> None:
        """Keep the output folder out of gradio's file route (``/file=``), which serves files below the WebUI's
        folder to any client that names one (gradio 3; in the WebUI that is where ``outputs/`` lies): the saved maps
        of every user. A page downloads its own maps through copies in gradio's cache, so nothing of ours needs the
        route to reach the folder. The WebUI's own outputs are left as the WebUI serves them."""
        paths = getattr(demo, "blocked_paths", None)
        if not isinstance(paths, list):
            return
        folder = read_settings().output_dir
        for path in (os.path.abspath(folder), str(Path(folder).resolve())):
            if path not in paths:
                paths.append(path)

    # on_ui_settings
    def add_settings(self) -> None:
        shared = _shared()
        opts, option_info = getattr(shared, "opts", None), getattr(shared, "OptionInfo", None)
        if opts is None or option_info is None:
            return
        import gradio as gr

        default = default_output_dir()
        entries: list[tuple[str, Any]] = [
            (
                KEY_OUTPUT_DIR,
                _described(
                    option_info("", "Output folder", component_args={"visible": _dirs_visible()}, section=SECTION),
                    f"empty: {default}; a relative path starts in the WebUI's data folder",
                    reload=True,
                ),
            ),
            (
                KEY_BITS,
                _described(
                    option_info(
                        OPTION["bits"].default,
                        "Default bit depth of depth maps",
                        gr.Radio,
                        {"choices": list(OPTION["bits"].choices)},
                        section=SECTION,
                    ),
                    reload=True,
                ),
            ),
            (
                KEY_DEPTH_MODEL,
                _described(
                    option_info(
                        KEEP_MODEL,
                        "Preferred depth model for Send to ControlNet",
                        gr.Dropdown,
                        lambda: {"choices": [KEEP_MODEL, *self.depth_models()]},
                        section=SECTION,
                    ),
                    'from ControlNet\'s model list, those with "depth" in the name',
                    reload=True,
                ),
            ),
            (
                KEY_SETS_MODEL,
                option_info(
                    True, "Send to ControlNet also sets the preprocessor to none and the chosen model", section=SECTION
                ),
            ),
        ]
        for key, info in entries:
            opts.add_option(key, info)

    # on_ui_tabs
    def tabs(self) -> list[tuple[Any, str, str]]:
        from ..tab.wiring import build_tab

        print(self.controlnet().line, flush=True)  # which WebUI and ControlNet, in its console: once per page built
        return [(build_tab(self.tab_context()), TAB_TITLE, TAB_ID)]

    def controlnet(self) -> Detected:
        """The page's ControlNet (sd-webui-controlnet, Forge's built-in one, or none) and the line saying so."""
        return detect(self.components, hidden_tabs(), is_forge())

    def tab_context(self) -> TabContext:
        """What the tab builder gets: output folder, defaults, the server's sessions, and the send block."""
        from ..tab.wiring import session_store

        settings = read_settings()
        ctx = TabContext(
            output_dir=settings.output_dir,
            defaults=DepthParams(bits=settings.bits),
            elem_prefix=TAB_ID,
            add_controls=self._send_controls(),
        )
        if self.sessions is not None:
            self.sessions.close()
        self.sessions = session_store(ctx)
        return replace(ctx, sessions=self.sessions)

    def _send_controls(self) -> Callable[[TabHandles], None]:
        hidden = hidden_tabs()

        def add(handles: TabHandles) -> None:
            found = self.controlnet()
            self.send_block = SendBlock(
                handles,
                found.bridge,
                GenerationControls(self.components, hidden),
                settings=self.send_settings,
                elem_prefix=TAB_ID,
                detected=found.line,
            )
            self.set_block = SetSendBlock(
                handles,
                found.bridge,
                GenerationControls(self.components, hidden),
                settings=self.send_settings,
                elem_prefix=TAB_ID,
            )
            self.region_block = RegionSendBlock(
                handles,
                RegionalPrompter(self.components, hidden),
                GenerationControls(self.components, hidden),
                elem_prefix=TAB_ID,
            )

        return add

    def send_settings(self) -> SendSettings:
        """Read at every send: a change on the Settings page applies without Reload UI."""
        settings = read_settings()
        return SendSettings(settings.depth_model, settings.set_preprocessor_model)

    def depth_models(self) -> list[str]:
        return self.controlnet().bridge.depth_models()
