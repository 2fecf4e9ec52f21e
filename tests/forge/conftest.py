"""Fixtures for the Forge side: stand-in ``modules`` and ``modules_forge`` packages (tests/forge/standin) in
``sys.modules`` for one test. Forge runs gradio 4: under gradio 3 these tests are skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from forge_helpers import STANDIN_DIR, Forge, forget_forge_modules

from daz_depthmap.tab.compat import GRADIO_MAJOR


@pytest.fixture
def forge(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Forge]:
    """The stand-in Forge installed (gradio 4 reporting every component to ``on_after_component``)."""
    if GRADIO_MAJOR < 4:
        pytest.skip("the stand-in is Forge's page, which runs gradio 4.40 (AUTOMATIC1111's: tests/webui)")
    data_dir = tmp_path / "forge-data"
    data_dir.mkdir()
    monkeypatch.setenv("WEBUI_STANDIN_DATA_DIR", str(data_dir))
    monkeypatch.syspath_prepend(str(STANDIN_DIR))
    forget_forge_modules()
    from modules import gradio_extensions, script_callbacks, shared

    undo = gradio_extensions.install()
    script_callbacks.clear_callbacks()
    script_callbacks.errors.clear()
    forge = Forge(script_callbacks, shared, data_dir)
    try:
        yield forge
    finally:
        for script in forge.scripts:  # as at Forge's exit: the sessions' uploads go
            script.extension.close_sessions()
        undo()
        forget_forge_modules()
