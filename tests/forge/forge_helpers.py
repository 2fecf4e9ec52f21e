"""Helpers of the Forge-side tests: the stand-in Forge of one test (its ``modules`` and ``modules_forge``, the
extension's ``scripts/`` file loaded the way Forge loads it, the stand-in page around it).

A module of its own with a unique name (not ``conftest``) so tests can import it.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import standin_forge

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDIN_DIR = Path(__file__).resolve().parent / "standin"
SCRIPT_FILE = REPO_ROOT / "scripts" / "daz_depthmap.py"


def forget_forge_modules() -> None:
    """Drop the stand-in ``modules``/``modules_forge`` and everything imported through them."""
    for name in list(sys.modules):
        if name.split(".")[0] in ("modules", "modules_forge") or name == "daz_depthmap.webui.extension":
            del sys.modules[name]


@dataclass
class Forge:
    """The stand-in Forge of one test: its modules, its data folder, and the extension scripts it loaded."""

    script_callbacks: ModuleType
    shared: ModuleType
    data_dir: Path
    scripts: list[ModuleType] = field(default_factory=list)

    def load_scripts(self) -> ModuleType:
        """Import ``scripts/daz_depthmap.py`` as Forge's ``modules/script_loading.py`` does."""
        spec = importlib.util.spec_from_file_location(SCRIPT_FILE.name, SCRIPT_FILE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.scripts.append(module)
        return module

    @property
    def extension(self) -> Any:
        return self.scripts[-1].extension

    def start(self, **kwargs: Any) -> standin_forge.Page:
        return standin_forge.forge_start(self.script_callbacks, self.shared, **kwargs)

    def errors(self) -> list[str]:
        return list(self.script_callbacks.errors)


def served(page: standin_forge.Page, scripts: list[Path] = ()) -> tuple[str, Any]:
    """Launch the stand-in page on a free port with Forge's page scripts (the stand-in's ``standin_forge.js``) and
    ``scripts`` (e.g. the extension's ``javascript/*.js``) before ``</head>``, as Forge injects them.

    Returns the page's URL and a function that stops the server and restores gradio's template response.
    """
    import socket

    import gradio.routes

    head = f"<script>{standin_forge.PAGE_SCRIPT}</script>\n" + "".join(
        f"<script>{path.read_text(encoding='utf-8')}\n//# sourceURL={path.name}\n</script>\n" for path in scripts
    )
    templates = gradio.routes.templates
    original = templates.TemplateResponse

    def template_response(*args: Any, **kwargs: Any) -> Any:
        response = original(*args, **kwargs)
        response.body = response.body.replace(b"</head>", head.encode("utf-8") + b"</head>", 1)
        response.init_headers()
        return response

    templates.TemplateResponse = template_response
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    page.demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)

    def stop() -> None:
        templates.TemplateResponse = original
        page.demo.close()

    return f"http://127.0.0.1:{port}/", stop


def in_own_thread(function: Any, *args: Any) -> Any:
    """Run ``function`` in a fresh thread and return its result (or raise its exception): other tests may keep a
    session-wide Playwright (an event loop) in the main thread, where Playwright's sync API refuses to start."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()
