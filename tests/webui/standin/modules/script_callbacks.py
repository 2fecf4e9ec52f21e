"""Stand-in of modules/script_callbacks.py with the 1.10.1 signatures: ``on_xxx(callback, *, name=None)``.

The runners call callbacks in registration order (``before_ui`` in reverse, as the WebUI does) and, like the
WebUI, report an exception instead of raising it: reports collect in ``errors`` for the tests to check.
"""

from __future__ import annotations

import dataclasses
import traceback
from typing import Any


@dataclasses.dataclass
class ScriptCallback:
    script: str
    callback: Any
    name: str = "unnamed"


CATEGORIES = (
    "app_started",
    "on_reload",
    "ui_tabs",
    "ui_settings",
    "before_component",
    "after_component",
    "script_unloaded",
    "before_ui",
)
callback_map: dict[str, list[ScriptCallback]] = {category: [] for category in CATEGORIES}
errors: list[str] = []


def add_callback(callbacks, fun, *, name=None, category="unknown", filename=None):
    callback_name = f"standin/{category}" + (f"/{name}" if name is not None else "")
    callbacks.append(ScriptCallback(filename or "unknown file", fun, callback_name))


def clear_callbacks():
    for callbacks in callback_map.values():
        callbacks.clear()


def _report(callback: ScriptCallback, job: str) -> None:
    errors.append(f"{job} {callback.name}: {traceback.format_exc()}")


def _run(category: str, *args, reverse: bool = False, **kwargs) -> list[Any]:
    results = []
    callbacks = callback_map[category]
    for callback in reversed(callbacks) if reverse else list(callbacks):
        try:
            results.append(callback.callback(*args, **kwargs))
        except Exception:
            _report(callback, category)
    return results


def app_started_callback(demo, app):
    _run("app_started", demo, app)


def app_reload_callback():
    _run("on_reload")


def ui_tabs_callback():
    res = []
    for result in _run("ui_tabs"):
        res += result or []
    return res


def ui_settings_callback():
    _run("ui_settings")


def before_component_callback(component, **kwargs):
    _run("before_component", component, **kwargs)


def after_component_callback(component, **kwargs):
    _run("after_component", component, **kwargs)


def script_unloaded_callback():
    _run("script_unloaded", reverse=True)


def before_ui_callback():
    _run("before_ui", reverse=True)


def on_app_started(callback, *, name=None):
    add_callback(callback_map["app_started"], callback, name=name, category="app_started")


def on_before_reload(callback, *, name=None):
    add_callback(callback_map["on_reload"], callback, name=name, category="on_reload")


def on_ui_tabs(callback, *, name=None):
    add_callback(callback_map["ui_tabs"], callback, name=name, category="ui_tabs")


def on_ui_settings(callback, *, name=None):
    add_callback(callback_map["ui_settings"], callback, name=name, category="ui_settings")


def on_before_component(callback, *, name=None):
    add_callback(callback_map["before_component"], callback, name=name, category="before_component")


def on_after_component(callback, *, name=None):
    add_callback(callback_map["after_component"], callback, name=name, category="after_component")


def on_script_unloaded(callback, *, name=None):
    add_callback(callback_map["script_unloaded"], callback, name=name, category="script_unloaded")


def on_before_ui(callback, *, name=None):
    add_callback(callback_map["before_ui"], callback, name=name, category="before_ui")
