"""Stand-in of Forge's modules/gradio_extensions.py (spelt right, unlike A1111's ``gradio_extensons``): every
gradio 4 component (``gr.components.Component``) and layout block (``BlockContext``) reports itself to
``script_callbacks.after_component_callback(component, **constructor_kwargs)`` once built, and gets the
``gradio-<name>`` class Forge adds for its styles.

Not imitated: Forge's ``repair`` of every component class (``source=`` to ``sources=[...]``, unknown keywords
dropped with a warning, ``_js=`` mapped to ``js=`` on events): the extension and the stand-in page pass gradio 4's
own keywords. As Forge does, classes marked ``webui_do_not_create_gradio_pyi_thank_you`` get no ``.pyi`` file
(gradio 4 writes one next to the module of every component class it sees defined). ``install()`` patches gradio and
returns a function that undoes the patch.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr
import gradio.component_meta

from modules import script_callbacks


def _reporting(original: Callable) -> Callable:
    def init(self, *args, **kwargs):
        tooltip = kwargs.pop("tooltip", None)
        script_callbacks.before_component_callback(self, **kwargs)
        result = original(self, *args, **kwargs)
        self.webui_tooltip = tooltip
        self.elem_classes = [f"gradio-{self.get_block_name()}", *(getattr(self, "elem_classes", None) or [])]
        script_callbacks.after_component_callback(self, **kwargs)
        return result

    return init


def install() -> Callable[[], None]:
    originals = [
        (gr.components.Component, gr.components.Component.__init__),
        (gr.blocks.BlockContext, gr.blocks.BlockContext.__init__),
    ]
    for cls, original in originals:
        cls.__init__ = _reporting(original)
    write_pyi = gradio.component_meta.create_or_modify_pyi

    def no_pyi_for_marked(component_class, class_name, events):
        if not getattr(component_class, "webui_do_not_create_gradio_pyi_thank_you", False):
            write_pyi(component_class, class_name, events)

    gradio.component_meta.create_or_modify_pyi = no_pyi_for_marked

    def undo() -> None:
        for cls, original in originals:
            cls.__init__ = original
        gradio.component_meta.create_or_modify_pyi = write_pyi

    return undo
