"""The contract between the tab builder and its hosts (the standalone app and the WebUI).

The host says where outputs go, which defaults apply and which session store holds its users' files; the tab hands
back the few things a host may wire to (the WebUI adds its send block through ``add_controls``). No gradio here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..params import DEFAULT_MAX_PIXELS, DepthParams

if TYPE_CHECKING:
    from ..session.store import SessionStore


@dataclass(frozen=True)
class TabHandles:
    """What the built tab exposes to its host's controls, inside the ``gr.Blocks`` context."""

    session: Any  # gr.State holding this browser tab's session token
    status: Any  # a component showing one short message line (gr.Markdown)
    sessions: SessionStore  # the store the token opens


@dataclass(frozen=True)
class TabContext:
    """What a host gives the tab builder."""

    output_dir: Path
    defaults: DepthParams = field(default_factory=DepthParams)
    max_pixels: int = DEFAULT_MAX_PIXELS
    elem_prefix: str = "daz_depthmap"
    #: called inside the Blocks, below the outputs, to add host-specific controls (the WebUI's send block)
    add_controls: Callable[[TabHandles], None] | None = None
    #: the server's sessions; ``None``: the builder makes one (removed with its uploads when the process ends)
    sessions: SessionStore | None = None
