"""Stand-in of Forge's modules_forge/forge_canvas/canvas.py: ``ForgeCanvas`` and its ``LogicalImage``.

Written for these tests from Forge's structure and observed behaviour (no code of Forge's, whose canvas is
AGPL-3.0 and non-commercial). What is imitated, and how faithfully:

- ``ForgeCanvas(elem_id=..., elem_classes=..., numpy=..., height=..., no_upload=..., no_scribbles=...)`` is a
  plain object (not a component) holding ``.block``, a ``gr.HTML`` with the caller's elem_id (the canvas markup
  below: ``#container_<uuid>``, the file input ``#imageInput_<uuid>.forge-file-upload``, the image
  ``#image_<uuid>.forge-image``, the scribble canvas ``#drawingCanvas_<uuid>.forge-drawing-canvas``, the upload
  hint ``#uploadHint_<uuid>``, a toolbar with upload and remove buttons), then ``.foreground`` and ``.background``
  (created in that order, as in Forge): hidden ``LogicalImage`` textboxes, both with the elem_id ``uuid_<hex>``
  (new at every build), told apart by the classes ``logical_image_foreground`` / ``logical_image_background``.
- A value travels as a ``data:image/png;base64,...`` RGBA PNG; in Python handlers it is a uint8 numpy array
  H x W x 4 (``numpy=True``) or a PIL image, or None. Returning an array (grey, RGB or RGBA) to ``.background``
  sets the image; it is stored as RGBA.
- The page side (``CANVAS_JS``, our own code after the behaviour of Forge's canvas.min.js): a load event
  (``Context.root_block.load(None, js=...)``, as Forge registers it) makes a ``ForgeCanvas`` controller per
  canvas. It polls the background textarea every 100 ms; a new value is loaded into an ``Image``, then shown in
  ``#image_<uuid>`` (fitted into the container, which leaves it mis-sized while the canvas is hidden until the
  container's ResizeObserver fires), the scribble canvas is sized to the image, and the image is drawn once more
  from the ``<img>`` element into a canvas and written back to the background textarea (an ``input`` event: the
  value gradio then holds is the canvas' own RGBA PNG), and the empty scribble layer to the foreground. A file
  chosen in the file input takes the same path. Like Forge's, it does nothing unless ``gradio_config.version``
  starts with "4".
- Not imitated: drawing, undo/redo, maximise, drag and zoom, paste and drop, the high-contrast scribble pattern,
  the ``forge_canvas_plain`` / ``forge_canvas_toolbar_always`` settings.
"""

from __future__ import annotations

import base64
import io
import uuid
from functools import wraps
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from gradio.context import Context
from PIL import Image

CANVAS_JS = (Path(__file__).with_name("standin_canvas.js")).read_text(encoding="utf-8")
CANVAS_CSS = """
.forge-container { position: relative; width: 100%; }
.forge-image-container { position: relative; width: 100%; height: 100%; overflow: hidden; background: #8884; }
.forge-image { position: absolute; display: none; }
.forge-drawing-canvas { position: absolute; top: 0; left: 0; }
.forge-upload-hint { position: absolute; top: 45%; width: 100%; text-align: center; }
.forge-toolbar { position: absolute; top: 4px; left: 4px; }
"""
#: What Forge puts into the page head (``gr.Blocks(head=canvas_head)``): the canvas script and styles (inline
#: here; Forge links its files).
canvas_head = f"<style>{CANVAS_CSS}</style>\n<script>{CANVAS_JS}</script>\n"

CANVAS_HTML = """
<div class="forge-container" id="container_forge_mixin">
    <input type="file" id="imageInput_forge_mixin" class="forge-file-upload" accept="image/*">
    <div id="imageContainer_forge_mixin" class="forge-image-container">
        <div id="uploadHint_forge_mixin" class="forge-upload-hint">Drop or click to upload</div>
        <img id="image_forge_mixin" class="forge-image forge-no-select" alt="">
        <canvas id="drawingCanvas_forge_mixin" class="forge-drawing-canvas" width="1" height="1"></canvas>
        <div class="forge-toolbar" id="toolbar_forge_mixin">
            <button id="uploadButton_forge_mixin" class="forge-btn" title="Upload" type="button">Upload</button>
            <button id="removeButton_forge_mixin" class="forge-btn" title="Remove" type="button">Remove</button>
        </div>
    </div>
</div>
"""


def image_to_base64(image: Any, numpy: bool = True) -> str:
    """An image (array or PIL) as an RGBA PNG data URL."""
    picture = Image.fromarray(image) if numpy else image
    buffer = io.BytesIO()
    picture.convert("RGBA").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def base64_to_image(data: str, numpy: bool = True) -> Any:
    """An RGBA image from a PNG data URL: a uint8 H x W x 4 array, or a PIL image."""
    picture = Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[-1]))).convert("RGBA")
    return np.array(picture) if numpy else picture


class LogicalImage(gr.Textbox):
    """A hidden textbox whose value is an image: a PNG data URL on the page, an array (or PIL image) in Python."""

    webui_do_not_create_gradio_pyi_thank_you = True

    @wraps(gr.Textbox.__init__)  # gradio 4 builds the page's config from the signature: keep Textbox's
    def __init__(self, *args: Any, numpy: bool = True, **kwargs: Any) -> None:
        self.numpy = numpy
        if "value" in kwargs:
            if kwargs["value"] is None:
                del kwargs["value"]
            else:
                kwargs["value"] = image_to_base64(kwargs["value"], numpy)
        super().__init__(*args, **kwargs)

    def preprocess(self, payload: Any) -> Any:
        if not isinstance(payload, str) or not payload.startswith("data:image/png;base64,"):
            return None
        return base64_to_image(payload, self.numpy)

    def postprocess(self, value: Any) -> Any:
        return None if value is None else image_to_base64(value, self.numpy)

    def get_block_name(self) -> str:
        return "textbox"


class ForgeCanvas:
    """The canvas markup (``.block``) and its two logical images (``.foreground``, ``.background``)."""

    def __init__(
        self,
        no_upload: bool = False,
        no_scribbles: bool = False,
        contrast_scribbles: bool = False,
        height: int = 512,
        visible: bool = True,
        numpy: bool = False,
        initial_image: Any = None,
        elem_id: str | None = None,
        elem_classes: Any = None,
        **_scribble_options: Any,
    ) -> None:
        self.uuid = "uuid_" + uuid.uuid4().hex
        html = CANVAS_HTML.replace("forge_mixin", self.uuid)
        self.block = gr.HTML(html, visible=visible, elem_id=elem_id, elem_classes=elem_classes)
        self.foreground = LogicalImage(
            visible=False, label="foreground", numpy=numpy, elem_id=self.uuid, elem_classes=["logical_image_foreground"]
        )
        self.background = LogicalImage(
            visible=False,
            label="background",
            numpy=numpy,
            value=initial_image,
            elem_id=self.uuid,
            elem_classes=["logical_image_background"],
        )
        flags = ", ".join("true" if f else "false" for f in (no_upload, no_scribbles, contrast_scribbles))
        Context.root_block.load(None, js=f'async () => {{ new ForgeCanvas("{self.uuid}", {flags}, {int(height)}); }}')
