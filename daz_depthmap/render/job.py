"""The job: what every front end asks of one depth file or canvas set, and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import DepthParams


@dataclass(frozen=True)
class FullMaps:
    """Full-resolution outputs of the file currently shown in a session."""

    name: str  # safe output stem, e.g. "scene" for scene.exr
    depth: np.ndarray  # uint8 or uint16, near = white
    mask: np.ndarray  # uint8, far plane black, subject white (always computed, shown or not)
    params: DepthParams

    @property
    def width(self) -> int:
        return int(self.depth.shape[1])

    @property
    def height(self) -> int:
        return int(self.depth.shape[0])
