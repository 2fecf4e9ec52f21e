"""Where gradio 3 (the AUTOMATIC1111 WebUI's 3.41) and gradio 4 (Forge's 4.40) differ, in one place.

Everything else in the tab calls these and never asks which gradio it runs on.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

GRADIO_MAJOR = int(gr.__version__.split(".")[0])


def js(code: str) -> dict[str, str]:
    """The keyword that gives an event a client-side function: ``_js`` in gradio 3, ``js`` in gradio 4."""
    return {"_js" if GRADIO_MAJOR < 4 else "js": code}


def js_passing(code: str, states: Sequence[int] = ()) -> dict[str, str]:
    """The keyword of a client function that runs before an event's Python function and hands it the input values
    it returns (``code``: a function of the input values, returning them or a promise of them).

    Both gradio versions call it with every input (a ``gr.State`` as null). gradio 3 takes back every value;
    gradio 4 takes back only those of the inputs that are not ``gr.State`` (its server fills those in, and a value
    too many shifts the rest), so the values at the positions ``states`` are dropped from what ``code`` returns.
    """
    if GRADIO_MAJOR < 4 or not states:
        return js(code)
    drop = json.dumps(sorted(states))
    return js(f"async (...args) => (await ({code})(...args)).filter((_, i) => !{drop}.includes(i))")


def update(**changes: Any) -> Any:
    """An update of a component's properties (``gr.update`` exists in both)."""
    return gr.update(**changes)


def image_source_upload() -> dict[str, Any]:
    """The keyword that makes an image input take uploads only."""
    return {"source": "upload"} if GRADIO_MAJOR < 4 else {"sources": ["upload"]}


def queue_args(workers: int) -> dict[str, int]:
    """``Blocks.queue`` keywords for ``workers`` events running at once: gradio 3's ``concurrency_count`` (worker
    threads of the queue); gradio 4 refuses that keyword and limits each event instead (``default_concurrency_limit``,
    1 unless set), so ``workers`` there lets every event run that many times at once."""
    return {"concurrency_count": workers} if GRADIO_MAJOR < 4 else {"default_concurrency_limit": workers}


def lossless_image() -> dict[str, str]:
    """The keyword that keeps an output image's pixels exact: gradio 3 sends arrays as PNG data URLs; gradio 4
    writes them to its cache as WebP (lossy) unless told ``format="png"``, and serves them as files."""
    return {} if GRADIO_MAJOR < 4 else {"format": "png"}


def exact_image(component: Any, image: Any) -> Any:
    """The value that puts ``image`` (a uint8 array) into an image component of another extension pixel for pixel:
    gradio 3 sends the array as a PNG data URL; gradio 4 would write it as its ``format`` (WebP, lossy, unless the
    component asked for PNG), so the array goes into gradio's cache as PNG first and the component gets that file."""
    if GRADIO_MAJOR < 4 or not isinstance(component, gr.Image) or getattr(component, "format", "png") == "png":
        return image
    from gradio.processing_utils import save_img_array_to_cache

    return save_img_array_to_cache(image, cache_dir=component.GRADIO_CACHE, format="png")


def download_copy(component: Any, path: Path) -> Path:
    """The copy of ``path`` that a ``gr.File`` output serves for download: made here as gradio would make it (in
    its cache, ``<GRADIO_TEMP_DIR or TMPDIR/gradio>/<sha1 of the bytes>/NAME``), so gradio serves this very file
    and the caller knows which file to delete when the page no longer offers it. Both gradio versions serve that
    folder's files to any client that names one; the hash in its path is known only to the page it is given to.
    """
    if GRADIO_MAJOR < 4:
        return Path(component.make_temp_copy_if_needed(str(path)))
    return Path(component.move_resource_to_block_cache(str(path)))


def on_commit(component: Any, fn: Any, inputs: list[Any], outputs: list[Any], **kwargs: Any) -> None:
    """Run ``fn`` when a number box's value is committed: Enter, and leaving the box (gradio 4's Number has no
    ``blur``; its ``input`` fires per keystroke there, so leaving is caught by ``change`` after ``submit``)."""
    component.submit(fn, inputs, outputs, **kwargs)
    if hasattr(component, "blur"):
        component.blur(fn, inputs, outputs, **kwargs)
    else:
        component.change(fn, inputs, outputs, **kwargs)


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the path the handler got, the name the user's file had, and the framework's other
    temporary copies of it (deleted once the session owns its own copy)."""

    path: Path
    name: str
    copies: tuple[Path, ...] = ()


def uploads(files: Any) -> list[Upload]:
    """The uploaded files of a ``gr.File`` event value, with the framework's other copies of each.

    gradio 3.41 hands a temporary-file object per file: ``.name`` is a copy in its cache (``<temp>/<sha1>/NAME``),
    ``.orig_name`` the copy its ``/upload`` route wrote (``<temp>/<random>/NAME``, whose file name is the user's),
    and the object itself holds an empty ``tmpXXXX`` file open. None of them is ever deleted by gradio. The handler
    clears the upload box in the same event, so the page no longer refers to any of them and all may go.
    gradio 4 hands paths (``NamedString``) of its one cached copy.
    """
    if files is None:
        return []
    items = files if isinstance(files, (list, tuple)) else [files]
    found = []
    for item in items:
        path = Path(str(getattr(item, "name", None) or item))
        original = getattr(item, "orig_name", None)
        copies: list[Path] = []
        if original and Path(str(original)).is_absolute():
            copies.append(Path(str(original)))
        held = getattr(getattr(item, "file", None), "name", None)
        if isinstance(held, str) and held != str(path):
            copies.append(Path(held))
            with contextlib.suppress(Exception):
                item.close()  # the empty temporary file it holds open
        found.append(Upload(path, Path(str(original or path)).name, tuple(copies)))
    return found


# ------------------------------------------------------------------------------------------------------------------
# Reading a built Blocks' events (the tests call events in-process through these)


@dataclass(frozen=True)
class Listener:
    """One event listener of a built ``gr.Blocks``: which (component id, trigger) pairs start it, its inputs and
    outputs (component ids), its function, the listener it runs after (``.then``, by :attr:`key`) and its progress
    display.

    gradio 3 keeps them as dicts in ``blocks.dependencies`` (found by index, ``"targets"`` a list of ids and one
    ``"trigger"``); gradio 4 as ``BlockFunction`` objects in ``blocks.fns`` (found by ``_id``, ``targets`` a list
    of ``(id, trigger)`` pairs).
    """

    key: int
    targets: tuple[tuple[int | None, str], ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    fn: Any
    trigger_after: int | None
    show_progress: str

    def starts_on(self, component: Any | None, trigger: str) -> bool:
        """Whether ``trigger`` of ``component`` (``None``: the page's load) starts this listener."""
        if component is None:
            return any(name == trigger for _, name in self.targets)
        return (component._id, trigger) in self.targets


def listeners(blocks: gr.Blocks) -> list[Listener]:
    """Every event listener of ``blocks``, in the order they were added."""
    if GRADIO_MAJOR < 4:
        return [
            Listener(
                key=index,
                targets=tuple((target, dep["trigger"]) for target in dep["targets"]) or ((None, dep["trigger"]),),
                inputs=tuple(dep["inputs"]),
                outputs=tuple(dep["outputs"]),
                fn=blocks.fns[index].fn,
                trigger_after=dep.get("trigger_after"),
                show_progress=dep["show_progress"],
            )
            for index, dep in enumerate(blocks.dependencies)
        ]
    return [
        Listener(
            key=key,
            targets=tuple((target, trigger) for target, trigger in fn.targets),
            inputs=tuple(block._id for block in fn.inputs),
            outputs=tuple(block._id for block in fn.outputs),
            fn=fn.fn,
            trigger_after=fn.trigger_after,
            show_progress=fn.show_progress,
        )
        for key, fn in blocks.fns.items()
    ]
