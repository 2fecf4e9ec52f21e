"""Fixtures for the WebUI side: a stand-in ``modules`` package (tests/webui/standin/modules) in ``sys.modules`` for
one test. The helpers the tests import live in ``webui_helpers``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from webui_helpers import STANDIN_DIR, WebUI, _forget_webui_modules

from daz_depthmap.tab.compat import GRADIO_MAJOR


@pytest.fixture
def webui(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WebUI]:
    """The stand-in ``modules`` installed (gradio reporting every component to ``on_after_component``)."""
    if GRADIO_MAJOR >= 4:
        pytest.skip("the stand-in is AUTOMATIC1111 WebUI 1.10's page, which runs gradio 3.41 (Forge's: tests/forge)")
    data_dir = tmp_path / "webui-data"
    data_dir.mkdir()
    monkeypatch.setenv("WEBUI_STANDIN_DATA_DIR", str(data_dir))
    monkeypatch.syspath_prepend(str(STANDIN_DIR))
    _forget_webui_modules()
    from modules import gradio_extensons, paths_internal, script_callbacks, shared

    undo = gradio_extensons.install()
    webui = WebUI(script_callbacks, shared, paths_internal, data_dir)
    try:
        yield webui
    finally:
        for script in webui.scripts:  # as at the WebUI's exit: the sessions' uploads go
            script.extension.close_sessions()
        undo()
        _forget_webui_modules()
