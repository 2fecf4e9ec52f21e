"""Stand-in of modules/gradio_extensons.py (sic): every gradio component and layout block reports itself to
``script_callbacks.after_component_callback(component, **constructor_kwargs)`` once built.

``install()`` patches gradio and returns a function that undoes the patch.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from modules import script_callbacks


def _reporting(original: Callable) -> Callable:
    def init(self, *args, **kwargs):
        kwargs.pop("tooltip", None)
        script_callbacks.before_component_callback(self, **kwargs)
        result = original(self, *args, **kwargs)
        script_callbacks.after_component_callback(self, **kwargs)
        return result

    return init


def install() -> Callable[[], None]:
    originals = [(gr.components.IOComponent, gr.components.IOComponent.__init__)]
    originals.append((gr.blocks.BlockContext, gr.blocks.BlockContext.__init__))
    for cls, original in originals:
        cls.__init__ = _reporting(original)

    def undo() -> None:
        for cls, original in originals:
            cls.__init__ = original

    return undo
