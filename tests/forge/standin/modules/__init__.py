"""A stand-in for the parts of Forge's ``modules`` package the extension and the Forge stand-in page touch.

Forge keeps AUTOMATIC1111 1.10's ``script_callbacks``, ``shared``, ``options`` and paths modules, so those are the
WebUI stand-in's (``tests/webui/standin/modules``, searched after this folder); here are only Forge's own:
``gradio_extensions`` (gradio 4's component classes report to ``on_after_component``) and ``ui_components``
(``InputAccordion``, ``FormRow``). Written for these tests to Forge's signatures, not copied from it.
"""

from pathlib import Path

__path__.append(str(Path(__file__).resolve().parents[3] / "webui" / "standin" / "modules"))
