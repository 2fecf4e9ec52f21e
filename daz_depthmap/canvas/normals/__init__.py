"""Normal maps for ControlNet, from Iray's Normal canvas or computed from the Depth canvas.

Camera space here is OpenGL's: x right, y up, z toward the viewer; the camera sits at the origin looking down -z.
A surface facing the camera has the normal (0, 0, 1).

- :mod:`.encoding`: the options (:class:`NormalParams`), the result (:class:`NormalMap` and its report) and the
  colours of camera-space normals (:func:`encode_normals`);
- :mod:`.from_depth`: normals computed from the Depth canvas (:func:`normals_from_depth`,
  :func:`normal_map_from_depth`);
- :mod:`.from_canvas`: the Normal canvas checked and turned to camera space (:func:`normal_map_from_canvas`);
- :mod:`.options`: a canvas set's normal map in the user's words (the options the command line and the tab
  share).
"""

from __future__ import annotations

from .encoding import LARGE_ERROR_DEG, NormalMap, NormalParams, encode_normals
from .from_canvas import normal_map_from_canvas
from .from_depth import normal_map_from_depth, normals_from_depth

__all__ = [
    "LARGE_ERROR_DEG",
    "NormalMap",
    "NormalParams",
    "encode_normals",
    "normal_map_from_canvas",
    "normal_map_from_depth",
    "normals_from_depth",
]
