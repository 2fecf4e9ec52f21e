"""A canvas set's other maps: the normal map (from the Normal canvas, checked against the set's Depth canvas, or
computed from the depth alone) and the beauty render for pose detection, with the options the command line and the
tab share.

The option values are the user's words (``--normal_convention bae|sd15``, ``--normal_background camera|black``);
:class:`NormalOptions` turns them into :class:`~daz_depthmap.canvas.normals.NormalParams` and a
:class:`~daz_depthmap.canvas.camera.Camera` (the EXR header's, with the focal length or film width the user gives taking
precedence). Pure apart from reading the files named.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...exr import DepthImage, DepthReadError, header_attributes, read_vectors
from ...params import DEFAULT_MAX_PIXELS
from ..camera import DEFAULT_CAMERA, Camera, camera_from_header, rotation_from_header
from .encoding import NormalMap, NormalParams, encode_normals
from .from_canvas import normal_map_from_canvas
from .from_depth import normal_map_from_depth

#: ``--normal_convention`` values and the encodings they name: BAE/DSINE (``control_v11p_sd15_normalbae``) or the
#: channel order of ControlNet 1.0's ``control_sd15_normal``.
CONVENTIONS = {"bae": "normalbae", "sd15": "sd15"}
#: ``--normal_background`` values: the colour of a camera-facing normal, or black.
BACKGROUNDS = {"camera": "facing", "black": "black"}
#: What each channel of a normal map means, per convention (for legends and messages).
CHANNEL_MEANINGS = {
    "bae": "red: facing left · green: facing up · blue: facing the camera",
    "sd15": "red: facing the camera · green: facing up · blue: facing left",
}


@dataclass(frozen=True)
class NormalOptions:
    """How a set's normal map is made.

    Attributes
    ----------
    convention:
        ``"bae"`` (normalbae / DSINE, the default) or ``"sd15"`` (ControlNet 1.0's channel order).
    background:
        ``"camera"``: pixels without a normal face the camera (128, 128, 255 in bae); ``"black"``: (0, 0, 0).
    focal_mm, film_mm:
        The camera's focal length and horizontal film width; ``None``: the EXR header's, else DAZ Studio's default
        camera (65 mm on 36 mm).
    from_depth:
        Compute the normals from the Depth canvas when the set has no Normal canvas.
    """

    convention: str = "bae"
    background: str = "camera"
    focal_mm: float | None = None
    film_mm: float | None = None
    from_depth: bool = False

    def __post_init__(self) -> None:
        if self.convention not in CONVENTIONS:
            raise ValueError(f"the normal convention is one of {', '.join(CONVENTIONS)}, not {self.convention!r}")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"the normal background is one of {', '.join(BACKGROUNDS)}, not {self.background!r}")
        for name in ("focal_mm", "film_mm"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of millimetres, not {value!r}")

    def params(self) -> NormalParams:
        return NormalParams(convention=CONVENTIONS[self.convention], background=BACKGROUNDS[self.background])

    def camera(self, attributes: Mapping[str, Any]) -> Camera:
        """The camera: the header's (or DAZ Studio's default), with the values the user gave taking precedence."""
        found = camera_from_header(attributes, DEFAULT_CAMERA)
        if self.focal_mm is None and self.film_mm is None:
            return found
        focal = self.focal_mm if self.focal_mm is not None else found.focal_length_mm
        film = self.film_mm if self.film_mm is not None else found.film_width_mm
        given = ", ".join(
            f"{what} {value:g} mm"
            for what, value in (("focal length", self.focal_mm), ("film width", self.film_mm))
            if value is not None
        )
        return Camera(focal, film, f"given: {given}")


def set_normal_map(
    normal: str | os.PathLike[str] | None,
    depth: DepthImage | None,
    depth_path: str | os.PathLike[str] | None = None,
    options: NormalOptions = NormalOptions(),  # noqa: B008 - frozen
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> NormalMap | None:
    """The normal map of a set: from its Normal canvas (checked against ``depth``, the set's Depth canvas, when
    given), or computed from ``depth`` when ``options.from_depth`` and there is no Normal canvas; ``None`` when
    neither applies.

    ``depth_path`` is the Depth canvas's file, whose header may describe the camera.

    Raises
    ------
    DepthReadError
        Naming the Normal canvas when it cannot be read (one channel: "a Normal canvas needs three"), or when the
        two canvases differ in size.
    """
    params = options.params()
    depth_attributes = header_attributes(depth_path) if depth_path is not None else {}
    if normal is not None:
        path = Path(normal)
        canvas = read_vectors(path, max_pixels=max_pixels)
        camera = options.camera({**depth_attributes, **canvas.attributes})
        height, width = canvas.vectors.shape[:2]
        if depth is not None and depth.depth.shape != (height, width):
            dh, dw = depth.depth.shape
            raise DepthReadError(
                path,
                f"the Normal canvas is {width}x{height} pixels but the Depth canvas {depth.name} is {dw}x{dh}: they "
                "must come from the same render at the same size",
            )
        return normal_map_from_canvas(
            canvas.vectors,
            params,
            depth=None if depth is None else depth.depth,
            valid=None if depth is None else depth.valid,
            camera=camera,
            header_rotation=rotation_from_header(canvas.attributes),
        )
    if options.from_depth and depth is not None:
        return normal_map_from_depth(depth.depth, params, depth.valid, options.camera(depth_attributes))
    return None


def normal_legend(convention: str = "bae", size: int = 96) -> np.ndarray:
    """A hemisphere facing the camera in the convention's colours (uint8 RGB, ``size`` square), for the tab: its
    left rim shows "facing left", its top rim "facing up", its centre "facing the camera"."""
    if convention not in CONVENTIONS:
        raise ValueError(f"the normal convention is one of {', '.join(CONVENTIONS)}, not {convention!r}")
    centre = (size - 1) / 2
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    u, v = (x - centre) / (size / 2), (centre - y) / (size / 2)
    r2 = u * u + v * v
    inside = r2 < 1.0
    normals = np.zeros((size, size, 3), np.float32)
    normals[..., 0] = np.where(inside, u, 0.0)
    normals[..., 1] = np.where(inside, v, 0.0)
    normals[..., 2] = np.where(inside, np.sqrt(np.clip(1.0 - r2, 0.0, 1.0)), 0.0)
    return encode_normals(normals, CONVENTIONS[convention], "black")


def describe_normals(result: NormalMap) -> str:
    """One line about how a normal map was made, for a summary."""
    report = result.report
    if report.source == "depth":
        return f"normals from the depth ({report.camera.describe()})"
    if report.passthrough:
        return "the Normal canvas already holds an encoded map: passed through"
    space = "world space, turned to camera space" if report.space == "world" else "camera space"
    check = f", {report.depth_error_deg:.1f}° from the depth's normals" if report.depth_error_deg is not None else ""
    return f"Normal canvas in {space}{check}"


__all__ = [
    "BACKGROUNDS",
    "CHANNEL_MEANINGS",
    "CONVENTIONS",
    "NormalOptions",
    "describe_normals",
    "normal_legend",
    "set_normal_map",
]
