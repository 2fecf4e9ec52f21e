"""Reading OpenEXR files, safely: the depth channel of a Depth canvas and the three channels of a Normal or Beauty
canvas.

Uses the official OpenEXR bindings (``OpenEXR.File``), never OpenCV: cv2 silently drops ``Z`` and other
channels, reads only part 0 and can crash the process on damaged files.

- :mod:`.errors`: what the readers raise;
- :mod:`.open`: the guarded open both readers share (the checks before decoding, one part decoded at a time, the
  channel candidates);
- :mod:`.depth`: :func:`read_depth` and :class:`DepthImage`;
- :mod:`.vectors`: :func:`read_vectors` and :class:`VectorImage`;
- :mod:`.layout`: the file's layout read from its bytes, to refuse damage before the library sees it;
- :mod:`.library_output`: keeping the library's printing out of our output.
"""

from __future__ import annotations

from .depth import DepthImage, depth_image, header_attributes, read_depth, valid_depth
from .errors import DepthReadError, MissingBindingsError, NoDepthChannelError
from .vectors import VectorImage, read_vectors

__all__ = [
    "DepthImage",
    "DepthReadError",
    "MissingBindingsError",
    "NoDepthChannelError",
    "VectorImage",
    "depth_image",
    "header_attributes",
    "read_depth",
    "read_vectors",
    "valid_depth",
]
