"""What every ControlNet bridge is, whichever ControlNet it talks to: sd-webui-controlnet on the AUTOMATIC1111 WebUI
(:mod:`.a1111`) or Forge's built-in ControlNet (:mod:`.forge`).

A :class:`ControlNetBridge` offers its units as send targets and its model and preprocessor lists; a unit's
:meth:`~daz_depthmap.webui.targets.Target.configure` takes :class:`UnitSettings`. The send blocks
(:mod:`daz_depthmap.webui.send`) know ControlNet only through this module; the package's :func:`detect` picks the
bridge. This module never imports its subclasses.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ..targets import Bridge, ComponentIndex, Configured, Target

TABS = ("txt2img", "img2img")

#: the model choice that leaves the unit's model as it is
KEEP_MODEL = "Keep the unit's model"

#: ControlNet's control modes (the same three on both ControlNets)
CONTROL_MODES = ("Balanced", "My prompt is more important", "ControlNet is more important")

#: A unit's image, by element id, in both ControlNets (``ControlNet`` without an index: one unit on AUTOMATIC1111)
IMAGE_ID = re.compile(r"^(txt2img|img2img)_controlnet_ControlNet(?:-(\d+))?_input_image$")


def choices_of(component: Any) -> list[str]:
    """A dropdown's or radio's choice values (gradio 4 keeps ``(label, value)`` pairs)."""
    return [c[1] if isinstance(c, tuple) else c for c in (getattr(component, "choices", None) or [])]


def depth_only(names: Collection[Any]) -> list[str]:
    """The names with "depth" in them (any case), without ``"None"`` and duplicates, in their order."""
    return [n for n in dict.fromkeys(names) if isinstance(n, str) and n != "None" and "depth" in n.lower()]


def pick_model(preferred: str, models: list[str]) -> str:
    """The model choice to start with: the preferred one, or the same name with another hash, else keep."""
    if preferred in models:
        return preferred
    name = preferred.split(" [")[0].strip().lower()
    same = [m for m in models if m.split(" [")[0].strip().lower() == name] if name else []
    return same[0] if same else KEEP_MODEL


def pick_choice(wanted: Collection[str], offered: list[str]) -> str | None:
    """The first of ``wanted`` among ``offered``, compared without case (sd-webui-controlnet spells the empty
    preprocessor "none", Forge "None"); the offered spelling."""
    lowered = {o.lower(): o for o in reversed(offered) if isinstance(o, str)}
    return next((lowered[w.lower()] for w in wanted if w.lower() in lowered), None)


def in_range(component: Any, value: float) -> bool:
    """Whether a slider takes ``value`` (within its minimum and maximum)."""
    low, high = getattr(component, "minimum", None), getattr(component, "maximum", None)
    return not (low is not None and value < low or high is not None and value > high)


@dataclass(frozen=True)
class UnitSettings:
    """What a send sets in a unit around its image.

    Attributes
    ----------
    model:
        The model to choose; ``None``: leave the unit's model.
    set_preprocessor_model:
        False: leave preprocessor and model as they are.
    preprocessors:
        The preprocessor to choose: the first of these the unit offers, compared without case (``("none",)`` for a
        finished map; a pose send gives ``("dw_openpose_full", "openpose_full")``).
    weight, guidance_end, control_mode:
        Control weight, ending control step and control mode; ``None``: leave them.
    """

    model: str | None = None
    set_preprocessor_model: bool = True
    preprocessors: tuple[str, ...] = ("none",)
    weight: float | None = None
    guidance_end: float | None = None
    control_mode: str | None = None


def set_preprocessor_and_model(
    settings: UnitSettings, preprocessor: Any, model: Any, models: list[str], result: Configured
) -> None:
    """Updates of a unit's preprocessor and model dropdowns (either may be missing), said in ``result``."""
    offered = choices_of(preprocessor) if preprocessor is not None else []
    chosen = pick_choice(settings.preprocessors, offered)
    wanted = " or ".join(f'"{p}"' for p in settings.preprocessors)
    if preprocessor is None:
        result.notes.append("preprocessor not set (its dropdown was not found)")
    elif chosen is not None:
        result.updates[preprocessor] = chosen
        result.done.append(f"preprocessor {chosen}")
    else:
        result.notes.append(f"preprocessor not set ({wanted} is not among its choices)")
    if settings.model:
        if model is None:
            result.notes.append("model not set (its dropdown was not found)")
        elif settings.model in models:
            result.updates[model] = settings.model
            result.done.append(f"model `{settings.model}`")
        else:
            result.notes.append(f"model `{settings.model}` not set: it is not in ControlNet's model list any more")


def set_control_mode(value: str | None, radio: Any, result: Configured) -> None:
    """The update of a unit's control mode radio, said in ``result``."""
    if value is None:
        return
    if radio is None:
        result.notes.append("control mode not set (its radio was not found)")
    elif value in choices_of(radio):
        result.updates[radio] = value
        result.done.append(f"control mode {value}")
    else:
        result.notes.append(f"control mode {value!r} not set (not among its choices)")


class ControlNetUnitTarget(Target):
    """What the units of both ControlNets share: their element ids (``T_controlnet_ControlNet-i_…``), Enable,
    preprocessor, model, weight and control mode, img2img's "Upload independent control image", and how a unit is
    configured. Each ControlNet's unit adds how its image arrives and how its control steps are set."""

    def __init__(self, tab: str, number: int, index: ComponentIndex, image_id: str, models: Any) -> None:
        prefix = image_id[: -len("_input_image")]
        self.tab = tab
        self.number = number
        self.label = f"Unit {number}"
        self.image_id = image_id
        self.enable_id = f"{prefix}_controlnet_enable_checkbox"
        self.enable = index.get(self.enable_id)
        self.preprocessor = index.get(f"{prefix}_controlnet_preprocessor_dropdown")
        self.model = index.get(f"{prefix}_controlnet_model_dropdown")
        self.weight = index.get(f"{prefix}_controlnet_control_weight_slider")
        self.control_mode = index.get(f"{prefix}_controlnet_control_mode_radio")
        tick_id = f"{prefix}_controlnet_same_img2img_checkbox"
        self.tick_id = tick_id if tab == "img2img" and index.get(tick_id) is not None else None
        self._models = models
        self.prefix = prefix

    @property
    def where(self) -> str:
        return f"{self.tab} › ControlNet {self.label}"

    def preprocessor_choices(self) -> list[str]:
        return choices_of(self.preprocessor) if self.preprocessor is not None else []

    @abstractmethod
    def _balance(self, settings: UnitSettings, result: Configured) -> None:
        """Weight, control steps and control mode, where asked and found."""

    def configure(self, settings: Any) -> Configured:
        settings = settings if isinstance(settings, UnitSettings) else UnitSettings()
        result = Configured()
        if self.enable is not None:
            result.updates[self.enable] = True
            result.done.append("Enable")
        else:
            result.notes.append("Enable not ticked (its checkbox was not found)")
        self._balance(settings, result)
        if settings.set_preprocessor_model:
            set_preprocessor_and_model(settings, self.preprocessor, self.model, self._models(), result)
        return result


class ControlNetBridge(Bridge):
    """A ControlNet's units (targets whose ``configure`` takes :class:`UnitSettings`) and its lists.

    Units are found by their image's element id (``T_controlnet_ControlNet-i_input_image``); each ControlNet says
    which of those are usable images (:meth:`usable`) and builds its :attr:`unit` from one."""

    #: what the page has, for the detection line: "sd-webui-controlnet", "Forge's built-in ControlNet"
    name: str
    #: the element ids this bridge needs from the page
    WANTED = re.compile(r"^(?:txt2img|img2img)_controlnet_.+$")
    #: the unit class of this ControlNet
    unit: type[ControlNetUnitTarget]

    def __init__(self, index: ComponentIndex, hidden_tabs: Collection[str] = ()) -> None:
        self.index = index
        self.hidden_tabs = frozenset(hidden_tabs)

    def usable(self, image_id: str) -> bool:
        """Whether the unit whose image has this id can take an image from us."""
        return True

    def unit_images(self, usable_only: bool = False) -> dict[str, list[tuple[int, str]]]:
        """``{tab: [(unit number, image id), ...]}`` for every tab, hidden or not (only usable units when asked)."""
        found: dict[str, list[tuple[int, str]]] = {}
        for elem_id in self.index.ids():
            match = IMAGE_ID.match(elem_id)
            if match and (not usable_only or self.usable(elem_id)):
                found.setdefault(match[1], []).append((int(match[2] or 0), elem_id))
        return {tab: sorted(found[tab]) for tab in TABS if tab in found}

    def targets(self) -> dict[str, list[Target]]:
        units: dict[str, list[Target]] = {}
        for tab, found in self.unit_images(usable_only=True).items():
            if tab in self.hidden_tabs:
                continue  # never rendered: wiring its components would fail (InvalidBlockError)
            for number, image_id in found:
                units.setdefault(tab, []).append(self.unit(tab, number, self.index, image_id, self.models))
        return units

    def units(self) -> list[ControlNetUnitTarget]:
        """The units on the page, tab by tab."""
        return [unit for units in self.targets().values() for unit in units if isinstance(unit, ControlNetUnitTarget)]

    def dropdown_models(self) -> list[str]:
        """The models a unit's dropdown offers (without "None"): the lists' source when ControlNet's own is not
        there."""
        for unit in self.units():
            if unit.model is not None:
                return [c for c in choices_of(unit.model) if c != "None"]
        return []

    def preprocessors(self) -> list[str]:
        """The preprocessors a unit offers (the first unit's dropdown)."""
        units = self.units()
        return units[0].preprocessor_choices() if units else []

    def hidden_problem(self, tabs: Collection[str]) -> str | None:
        """Why there is no target although units were found: their tabs are hidden."""
        if self.targets():
            return None
        hidden = " and ".join(t for t in TABS if t in tabs)
        return (
            f"Send to ControlNet has nowhere to send: {hidden} {'is' if ' and ' not in hidden else 'are'} hidden "
            "(Settings › User interface › Hidden UI tabs)."
        )

    @abstractmethod
    def models(self) -> list[str]:
        """ControlNet's model list now (without ``"None"``)."""

    def depth_models(self) -> list[str]:
        return depth_only(self.models())

    def models_named(self, word: str) -> list[str]:
        """ControlNet's models with ``word`` in the name (any case): "normal", "openpose"."""
        return [m for m in dict.fromkeys(self.models()) if m != "None" and word in m.lower()]

    def found(self) -> bool:
        """Whether any of this ControlNet's units were reported by the page (hidden tabs or not)."""
        return False

    def summary(self) -> str:
        """The units on the page, for the detection line: "txt2img 3 units, img2img 3 units"."""
        units = self.targets()
        return ", ".join(f"{tab} {len(found)} unit{'s' if len(found) != 1 else ''}" for tab, found in units.items())


__all__ = [
    "CONTROL_MODES",
    "IMAGE_ID",
    "KEEP_MODEL",
    "TABS",
    "ControlNetBridge",
    "UnitSettings",
    "choices_of",
    "depth_only",
    "in_range",
    "pick_choice",
    "pick_model",
]
