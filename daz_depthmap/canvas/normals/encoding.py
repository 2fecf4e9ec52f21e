"""What a normal map is made with and of (:class:`NormalParams`, :class:`NormalReport`, :class:`NormalMap`, the
limits they use) and the colours of camera-space normals (:func:`encode_normals`), encoded band by band of rows.

Encoding (``convention``)
-------------------------
- ``"normalbae"`` (and ``"dsine"``, the same): ``R = (1 - x)/2, G = (1 + y)/2, B = (1 + z)/2``, times 255, rounded
  half up: red is left, green is up, blue is toward the viewer; a camera-facing pixel is (128, 128, 255). This is
  what ``control_v11p_sd15_normalbae`` and the DSINE-trained models expect.
- ``"sd15"``: the same colours in reversed channel order (R = toward the viewer, G = up, B = left), as the
  ControlNet 1.0 ``control_sd15_normal`` model is fed in AUTOMATIC1111; facing is (255, 128, 128).

Values are written linearly (no sRGB curve). Background (no geometry) is the colour of a camera-facing normal
(``background="facing"``, as the 1.0 preprocessor and renderer add-ons do) or black (``"black"``, what the BAE
training data treats as "no normal").
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ...chunks import CHUNK_PIXELS
from ..camera import Camera

CONVENTIONS = ("normalbae", "dsine", "sd15")
BACKGROUNDS = ("facing", "black")
SPACES = ("auto", "camera", "world")
DEPTH_KINDS = ("planar", "euclidean")

#: A normal whose dot product with the direction to the camera is below this faces away from the camera.
FACING_AWAY_BELOW = -0.1
#: A canvas with more than this share of its normals facing away is probably in world space, not camera space:
#: every visible surface of a camera-space canvas faces the camera, bar smoothed normals at silhouettes.
WORLD_SPACE_SHARE = 0.2
#: A canvas vector shorter than this is background (no hit: zero; a pixel mostly over background: short).
MIN_LENGTH = 0.25
#: A depth step between neighbours steeper than this slope (tan of the angle from facing the camera; 10 is about
#: 84 degrees) is an edge, not a surface: a silhouette, or one object in front of another.
MAX_SLOPE = 10.0
#: Where the slopes to both neighbours agree within this (tan units) the surface is smooth there, and the normal
#: uses the central difference; otherwise the flatter side (a crease, an edge).
SMOOTH_SLOPE = 0.5
#: The checks and the rotation fit look at a regular grid of about this many pixels.
SAMPLE_PIXELS = 100_000
#: A rotation (or the header's matrix) replaces "camera space as written" only when it fits the depth's normals
#: better by more than this many degrees (median angle).
BETTER_BY_DEG = 2.0
#: A median angle above this between the map's normals and the depth's is reported as a problem.
LARGE_ERROR_DEG = 10.0

IDENTITY = np.eye(3)


# --------------------------------------------------------------------------------------------------------------
# Options and results


@dataclass(frozen=True)
class NormalParams:
    """How a Normal canvas or a depth canvas becomes a normal map.

    Attributes
    ----------
    convention:
        ``"normalbae"`` / ``"dsine"`` (the same colours) or ``"sd15"`` (ControlNet 1.0's reversed channels).
    background:
        ``"facing"``: pixels without a normal get the colour of a camera-facing normal; ``"black"``: (0, 0, 0).
    space:
        What the Normal canvas holds: ``"auto"`` (check it: camera space unless it looks like world space or a
        rotation fits the depth's normals clearly better), ``"camera"`` (trust it) or ``"world"`` (rotate it: the
        given ``rotation``, the header's ``worldToCamera`` or a rotation fitted to the depth).
    flip_x, flip_y, flip_z:
        Negate a component of the canvas as read, before any rotation: for canvases with other axis conventions.
    rotation:
        A world-to-camera rotation (3x3, ``n_camera = rotation @ n_world``) to apply to the canvas; overrides
        ``space``.
    depth_kind:
        ``"planar"`` (Iray's Depth canvas: distance along the camera axis) or ``"euclidean"`` (distance to the
        camera along each pixel's ray).
    max_slope:
        Depth steps steeper than this slope between neighbours are edges (see :data:`MAX_SLOPE`).
    min_length:
        Canvas vectors shorter than this are background (see :data:`MIN_LENGTH`).
    """

    convention: str = "normalbae"
    background: str = "facing"
    space: str = "auto"
    flip_x: bool = False
    flip_y: bool = False
    flip_z: bool = False
    rotation: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]] | None = None
    depth_kind: str = "planar"
    max_slope: float = MAX_SLOPE
    min_length: float = MIN_LENGTH

    def __post_init__(self) -> None:
        for name, allowed in (
            ("convention", CONVENTIONS),
            ("background", BACKGROUNDS),
            ("space", SPACES),
            ("depth_kind", DEPTH_KINDS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if not (math.isfinite(self.max_slope) and self.max_slope > 0):
            raise ValueError(f"max_slope must be a positive number, not {self.max_slope}")
        if not (math.isfinite(self.min_length) and 0 < self.min_length < 1):
            raise ValueError(f"min_length must lie between 0 and 1, not {self.min_length}")
        if self.rotation is not None:
            matrix = np.asarray(self.rotation, dtype=np.float64)
            if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
                raise ValueError(f"rotation must be a 3x3 matrix of numbers, got shape {matrix.shape}")
            if not np.allclose(matrix @ matrix.T, IDENTITY, atol=1e-3) or np.linalg.det(matrix) < 0:
                raise ValueError(
                    "rotation must be a rotation matrix (orthonormal, determinant +1); use flips to mirror"
                )
            object.__setattr__(self, "rotation", tuple(tuple(float(v) for v in row) for row in matrix))

    @property
    def flips(self) -> np.ndarray:
        """The flips as a diagonal matrix."""
        return np.diag([-1.0 if f else 1.0 for f in (self.flip_x, self.flip_y, self.flip_z)])


DEFAULT_PARAMS = NormalParams()


@dataclass(frozen=True, eq=False)
class NormalReport:
    """What a conversion found and did, for the user.

    Attributes
    ----------
    source:
        ``"canvas"`` or ``"depth"``.
    space:
        What the canvas was taken for: ``"camera"`` or ``"world"``; ``"encoded"`` for a passed-through map.
    looks_world:
        More than :data:`WORLD_SPACE_SHARE` of the canvas's normals face away from the camera.
    facing_away:
        That share (0..1), measured on the canvas as read (after flips), against each pixel's view direction.
    rotation:
        The world-to-camera rotation applied (3x3), ``None`` for none.
    rotation_source:
        ``"given"``, ``"header"`` (worldToCamera) or ``"depth fit"``; ``""`` for none.
    rotation_angle_deg:
        How far that rotation turns, in degrees.
    depth_error_deg:
        With a depth canvas: the median angle between the map's normals and the normals of the depth, over pixels
        inside smooth surfaces, each direction counting equally (:func:`direction_weights`: a backdrop filling the
        frame does not hide the figure). A check of the whole conversion: a few degrees is normal.
    background_pixels:
        Pixels painted as background (no geometry, too short, NaN or infinite, or across depth edges).
    nonfinite_pixels:
        Canvas pixels holding NaN or infinity (they are background).
    passthrough:
        The canvas already held an encoded map (values 0..1) and was passed through.
    camera:
        The camera used for view directions and depth normals.
    notes:
        Sentences for the user, most important first.
    """

    source: str
    space: str
    convention: str
    background: str
    camera: Camera
    looks_world: bool = False
    facing_away: float = 0.0
    rotation: np.ndarray | None = None
    rotation_source: str = ""
    rotation_angle_deg: float | None = None
    depth_error_deg: float | None = None
    background_pixels: int = 0
    nonfinite_pixels: int = 0
    passthrough: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class NormalMap:
    """The result: ``image`` is uint8 (height, width, 3) in RGB order, ready for a PNG; ``report`` explains it."""

    image: np.ndarray
    report: NormalReport


# --------------------------------------------------------------------------------------------------------------
# Encoding


def encoding(convention: str, transform: np.ndarray = IDENTITY) -> np.ndarray:
    """The (3, 4) matrix M with ``colour = M @ (n, 1)`` for a unit canvas vector n: the transform to camera space,
    the red flip (red is left) and the channel order, times 127.5, plus 128 so that truncating rounds half up.

    The offset is 128 and 2**-13 (about a ten-thousandth) of a level: float32 arithmetic can land an exact half
    (x = 2/3: 42.5) a few hundred-thousandths below it, which would round down, and differently for different
    channel orders.
    """
    matrix = 127.5 * np.diag([-1.0, 1.0, 1.0]) @ transform
    if convention == "sd15":
        matrix = matrix[::-1]
    return np.hstack([matrix, np.full((3, 1), 128.0 + 2.0**-13)]).astype(np.float32)


def background_colour(convention: str, background: str) -> np.ndarray:
    if background == "black":
        return np.zeros(3, np.uint8)
    return (encoding(convention) @ np.array([0, 0, 1, 1], np.float32)).astype(np.uint8)


_SUM = np.ones((1, 3), np.float32)


def encode_band(
    vectors: np.ndarray, out: np.ndarray, matrix: np.ndarray, fill: np.ndarray, min_length: float
) -> tuple[int, int]:
    """Encode float32 vectors (rows, width, 3) of any length into uint8 ``out`` of the same shape: normalised,
    transformed and coloured by ``matrix`` (:func:`encoding`), rounded half up; shorter than ``min_length``, NaN
    or infinite: ``fill`` (an image at least as large). Returns the (background, non-finite) pixel counts.

    OpenCV does the per-pixel work: numpy's broadcasting over the colour axis and its masked writes are many
    times slower at this size.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        length2 = cv2.transform(cv2.multiply(vectors, vectors), _SUM).reshape(vectors.shape[:2])
        finite = np.isfinite(length2)
        keep = (length2 >= np.float32(min_length * min_length)) & finite
        scale = cv2.divide(1.0, cv2.sqrt(length2))
        unit = cv2.multiply(vectors, cv2.merge([scale, scale, scale]))
        colour = cv2.transform(unit, matrix).reshape(vectors.shape)  # unit vectors: 0.5 <= colour <= 255.5
        np.copyto(out, colour, casting="unsafe")  # truncation: half up
    rows, width = vectors.shape[:2]
    cv2.copyTo(fill[:rows, :width], (~keep).view(np.uint8), out)
    return int(keep.size - np.count_nonzero(keep)), int(finite.size - np.count_nonzero(finite))


def encode_normals(normals: np.ndarray, convention: str = "normalbae", background: str = "facing") -> np.ndarray:
    """Colours of camera-space normals: uint8 (height, width, 3), RGB order.

    Parameters
    ----------
    normals:
        float array (height, width, 3) of camera-space vectors (x right, y up, z toward the viewer), any length:
        they are normalised; vectors shorter than :data:`MIN_LENGTH`, NaN or infinite are background.
    convention, background:
        As in :class:`NormalParams`.
    """
    NormalParams(convention=convention, background=background)  # validates
    vectors = check_vectors(normals)
    out = np.empty(vectors.shape, np.uint8)
    encode_all(vectors, out, encoding(convention), background_colour(convention, background), MIN_LENGTH)
    return out


def _band_rows(width: int) -> int:
    """Rows per band: about :data:`CHUNK_PIXELS` pixels, so that the per-pixel work runs in cache."""
    return max(1, CHUNK_PIXELS // max(width, 1))


def bands(height: int, width: int) -> Iterator[tuple[int, int]]:
    """The row ranges of the bands."""
    step = _band_rows(width)
    for top in range(0, height, step):
        yield top, min(top + step, height)


def fill_image(width: int, colour: np.ndarray) -> np.ndarray:
    """A band-sized image of one colour, for :func:`encode_band`."""
    image = np.empty((_band_rows(width), width, 3), np.uint8)
    image[:] = colour
    return image


def encode_all(
    vectors: np.ndarray, out: np.ndarray, matrix: np.ndarray, colour: np.ndarray, min_length: float
) -> tuple[int, int]:
    """:func:`encode_band` over a whole image, band by band; returns the summed counts."""
    height, width = vectors.shape[:2]
    fill = fill_image(width, colour)
    background = nonfinite = 0
    for top, bottom in bands(height, width):
        b, n = encode_band(_float32(vectors[top:bottom]), out[top:bottom], matrix, fill, min_length)
        background, nonfinite = background + b, nonfinite + n
    return background, nonfinite


def _float32(band: np.ndarray) -> np.ndarray:
    """A contiguous float32 copy or view; half floats through OpenCV (about 20 times faster than numpy's cast)."""
    if band.dtype == np.float16:
        return cv2.convertFp16(np.ascontiguousarray(band))
    return np.ascontiguousarray(band, dtype=np.float32)


def check_vectors(normals: np.ndarray) -> np.ndarray:
    array = np.asarray(normals)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"expected a (height, width, 3) array of normals, got shape {array.shape}")
    if array.dtype.kind != "f":
        raise ValueError(f"expected float normals, got {array.dtype}")
    return array
