"""Stand-in of Forge's modules/ui_components.py: ``FormRow`` and ``InputAccordion`` with Forge's structure.

``InputAccordion(value, label=..., elem_classes=...)`` is a hidden ``gr.Checkbox`` (the value; elem_id
``input-accordion-N-checkbox``, carrying the caller's ``elem_classes``) and a ``gr.Accordion`` (elem_id
``input-accordion-N``, class ``input-accordion`` only: Forge overwrites the caller's classes there, so
ControlNet's ``cnet-unit-enabled-accordion`` ends up on the hidden checkbox), open as the value says. The page's
script (``standin_forge.FORGE_SCRIPT``, after Forge's javascript/inputAccordion.js) adds the visible checkbox
``.input-accordion-checkbox`` to the accordion's header.
"""

from __future__ import annotations

from functools import wraps

import gradio as gr


class FormRow(gr.Row):
    """A row that fits inside gradio forms (Forge's; a plain row here)."""

    webui_do_not_create_gradio_pyi_thank_you = True

    def get_block_name(self) -> str:
        return "row"


class InputAccordionImpl(gr.Checkbox):
    """The hidden checkbox of an input accordion; ``.accordion`` is the accordion (entered with ``with``)."""

    webui_do_not_create_gradio_pyi_thank_you = True

    global_index = 0

    @wraps(gr.Checkbox.__init__)  # gradio 4 builds the page's config from the signature: keep Checkbox's
    def __init__(self, value=None, setup=False, **kwargs):
        if not setup:
            super().__init__(value=value, **kwargs)
            return
        self.accordion_id = kwargs.get("elem_id")
        if self.accordion_id is None:
            self.accordion_id = f"input-accordion-{InputAccordionImpl.global_index}"
            InputAccordionImpl.global_index += 1
        super().__init__(value=value, **{**kwargs, "elem_id": f"{self.accordion_id}-checkbox", "visible": False})
        self.change(
            fn=None, js=f'(checked) => {{ inputAccordionChecked("{self.accordion_id}", checked); }}', inputs=[self]
        )
        accordion_kwargs = {
            **kwargs,
            "elem_id": self.accordion_id,
            "label": kwargs.get("label", "Accordion"),
            "elem_classes": ["input-accordion"],
            "open": value,
        }
        self.accordion = gr.Accordion(**accordion_kwargs)

    def __enter__(self):
        self.accordion.__enter__()
        return self

    def __exit__(self, *args):
        self.accordion.__exit__(*args)

    def get_block_name(self) -> str:
        return "checkbox"


def InputAccordion(value=None, **kwargs) -> InputAccordionImpl:
    return InputAccordionImpl(value=value, setup=True, **kwargs)
