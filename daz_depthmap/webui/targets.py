"""What every bridge to another extension (or to the WebUI's own controls) is: a set of element ids it wants from
the page, and targets that build their own updates.

The WebUI reports each component it creates through ``on_after_component``; the :class:`ComponentIndex` keeps the
ones some bridge wants. A :class:`Bridge` turns them into :class:`Target` objects — a ControlNet unit, img2img's
inpaint mask, Regional Prompter's mask — each of which knows its components, how the page shows it, and which
updates put an image (and settings) into it. The send blocks (:mod:`daz_depthmap.webui.send`) only talk to targets.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

Updates = dict[Any, Any]


class ComponentIndex:
    """Components of the WebUI page by element id, as ``on_after_component`` reports them.

    Only ids matching one of ``wanted`` are kept. The first component seen with an id wins: with ``--api`` the
    WebUI builds every script's UI again in a throwaway Blocks, and those copies are never on the page.
    :meth:`clear` forgets everything (Reload UI builds a new page).
    """

    def __init__(self, wanted: Iterable[re.Pattern[str]] = ()) -> None:
        self._wanted = tuple(wanted)
        self._by_id: dict[str, Any] = {}

    def add(self, component: Any, as_id: str | None = None) -> None:
        """Keep ``component`` if its elem_id (or ``as_id``, a bridge's own key for a component whose id says too
        little) is one a bridge uses and was not seen before."""
        elem_id = as_id or getattr(component, "elem_id", None)
        if not isinstance(elem_id, str) or elem_id in self._by_id:
            return
        if any(pattern.match(elem_id) for pattern in self._wanted):
            self._by_id[elem_id] = component

    def get(self, elem_id: str) -> Any | None:
        return self._by_id.get(elem_id)

    def ids(self) -> list[str]:
        return list(self._by_id)

    def clear(self) -> None:
        self._by_id.clear()


@dataclass(frozen=True)
class Reveal:
    """What the page script does before a target's value lands, all by element id.

    It shows each element of ``show`` (selecting the tabs and opening the accordions around it), ticks ``tick``
    (img2img's "Upload independent control image", which clears the image), waits until ``wait`` shows the image it
    got — with ``sketch``, until gradio 3's sketch tool there has handed on its {image, mask} value — and then ticks
    ``enable`` the way a user does.
    """

    show: tuple[str, ...]
    tick: str | None = None
    wait: str | None = None
    enable: str | None = None
    sketch: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "show": list(self.show),
            "tick": self.tick,
            "wait": self.wait,
            "enable": self.enable,
            "sketch": self.sketch,
        }


@dataclass(frozen=True)
class Configured:
    """What :meth:`Target.configure` did: the updates, what was set (for the status line) and what was not."""

    updates: Updates = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Target(ABC):
    """One place on the page an image can be sent to."""

    #: which generation tab it belongs to: "txt2img" or "img2img"
    tab: str
    #: what a chooser shows ("Unit 0")
    label: str

    @property
    def where(self) -> str:
        """Where it is, for the status line: "img2img › ControlNet Unit 1"."""
        return f"{self.tab} › {self.label}"

    @abstractmethod
    def outputs(self) -> list[Any]:
        """Every component :meth:`deliver` and :meth:`configure` may update (wired as outputs at build time)."""

    @abstractmethod
    def reveal(self) -> Reveal:
        """How the page shows this target before its value lands."""

    @abstractmethod
    def deliver(self, image: np.ndarray) -> Updates:
        """Updates that put ``image`` (uint8, grey or RGB) into the target."""

    def configure(self, settings: Any) -> Configured:
        """Updates that set the target up around its image (a ControlNet unit: Enable, preprocessor, model ...)."""
        return Configured()


class Bridge(ABC):
    """An extension's (or the WebUI's own) components, found by element id, as send targets."""

    #: element ids this bridge reads from the page
    WANTED: ClassVar[re.Pattern[str]]

    @abstractmethod
    def problem(self) -> str | None:
        """Why nothing can be sent there (not installed, unknown version, hidden tabs); ``None`` when targets exist."""

    @abstractmethod
    def targets(self) -> dict[str, list[Target]]:
        """The targets of each generation tab that is on the page, in order."""
