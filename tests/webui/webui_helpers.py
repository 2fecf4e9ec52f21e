"""Helpers of the WebUI-side tests: the stand-in WebUI of one test (its ``modules``, the extension's ``scripts/``
file loaded the way the WebUI loads it, a stand-in page around it) and ways to run gradio events in-process.

A module of its own with a unique name (not ``conftest``, which tests/browser has too) so tests can import it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import gradio as gr
import numpy as np
import standin_webui
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDIN_DIR = Path(__file__).resolve().parent / "standin"
SCRIPT_FILE = REPO_ROOT / "scripts" / "daz_depthmap.py"


def _forget_webui_modules() -> None:
    """Drop the stand-in ``modules`` and everything imported through it (the WebUI side of the package)."""
    for name in list(sys.modules):
        if (
            name == "modules"
            or name.startswith(("modules.", "internal_controlnet"))
            or name == "daz_depthmap.webui.extension"
        ):
            del sys.modules[name]


@dataclass
class WebUI:
    """The stand-in WebUI of one test: its modules, its data folder, and the extension scripts it loaded."""

    script_callbacks: ModuleType
    shared: ModuleType
    paths_internal: ModuleType
    data_dir: Path
    scripts: list[ModuleType] = field(default_factory=list)

    def load_scripts(self) -> ModuleType:
        """Import ``scripts/daz_depthmap.py`` as ``modules/script_loading.py`` does (not kept in sys.modules)."""
        spec = importlib.util.spec_from_file_location(SCRIPT_FILE.name, SCRIPT_FILE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self.scripts.append(module)
        return module

    @property
    def extension(self) -> Any:
        return self.scripts[-1].extension

    def start(self, **kwargs: Any) -> standin_webui.Page:
        """The page of one start: ``before_ui`` callbacks, then ``create_ui``."""
        return standin_webui.webui_start(self.script_callbacks, self.shared, **kwargs)

    def reload_ui(self, **kwargs: Any) -> standin_webui.Page:
        """Settings › Reload UI: callbacks cleared, ``scripts/`` run again (packages stay cached), a new page."""
        self.script_callbacks.app_reload_callback()
        self.script_callbacks.script_unloaded_callback()
        self.script_callbacks.clear_callbacks()
        self.load_scripts()
        return self.start(**kwargs)

    def errors(self) -> list[str]:
        return list(self.script_callbacks.errors)


def in_own_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function`` in a fresh thread and return its result (or raise its exception).

    Other tests may keep a session-wide Playwright (and so a running event loop) in the main thread; asyncio.run
    and Playwright's sync API both refuse to start there.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


# ------------------------------------------------------------------------------------------------------------------
# Running a page's events through gradio (preprocess, function, postprocess) without a browser


def event_index(blocks: gr.Blocks, component: Any, trigger: str) -> int:
    """The index of the first event ``trigger`` of ``component`` in ``blocks``."""
    for index, dependency in enumerate(blocks.dependencies):
        if component._id in dependency["targets"] and dependency["trigger"] == trigger:
            return index
    raise AssertionError(f"no {trigger} event on {component}")


def follow_ups(blocks: gr.Blocks, index: int) -> list[int]:
    """``index`` and the ``.then`` steps chained after it, in order."""
    chain = [index]
    while True:
        after = [i for i, d in enumerate(blocks.dependencies) if d.get("trigger_after") == chain[-1]]
        if not after:
            return chain
        chain.append(after[0])


def run_event(blocks: gr.Blocks, index: int, values: dict[Any, Any], state: dict[int, Any]) -> dict[Any, Any]:
    """Run event ``index`` with input values by component (others: their current value); outputs by component."""
    dependency = blocks.dependencies[index]
    inputs = []
    for block_id in dependency["inputs"]:
        component = blocks.blocks[block_id]
        inputs.append(values[component] if component in values else getattr(component, "value", None))
    result = in_own_thread(asyncio.run, blocks.process_api(fn_index=index, inputs=inputs, state=state))
    return {blocks.blocks[i]: v for i, v in zip(dependency["outputs"], result["data"], strict=True)}


def decode_image(value: Any) -> np.ndarray:
    """An image output (base64 data URL) as an array."""
    assert isinstance(value, str) and value.startswith("data:image/png;base64,"), f"not an image: {str(value)[:60]}"
    import base64

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(value.split(",", 1)[1]))))


def is_unchanged(value: Any) -> bool:
    """An output left as it was (an update without a value)."""
    return isinstance(value, dict) and value.get("__type__") == "update" and "value" not in value
