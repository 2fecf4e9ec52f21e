"""The render's camera: a pinhole model, what an EXR header says about it, and its rotation from world space.

Camera space is OpenGL's: x right, y up, z toward the viewer; the camera sits at the origin looking down -z (as
Iray's canvases are documented, ``shared/facts/normal-maps.md`` §1.3). The pinhole has square pixels, its axis
through the centre of the display window, and a horizontal film width: DAZ Studio's default camera is a 65 mm lens
on a 36 mm film back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_FOCAL_MM = 65.0
DEFAULT_FILM_MM = 36.0


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: focal length and horizontal film width in millimetres.

    Attributes
    ----------
    focal_length_mm, film_width_mm:
        Only their ratio matters: the focal length in pixels is ``focal / film * image width``.
    source:
        Where the values came from, for the report.
    """

    focal_length_mm: float = DEFAULT_FOCAL_MM
    film_width_mm: float = DEFAULT_FILM_MM
    source: str = "DAZ Studio's default camera"

    def __post_init__(self) -> None:
        for name in ("focal_length_mm", "film_width_mm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"the camera's {name.replace('_', ' ')[:-3]} must be a positive number, not {value!r}")

    def focal_pixels(self, width: int) -> float:
        """The focal length in pixels for an image ``width`` pixels wide."""
        return self.focal_length_mm * width / self.film_width_mm

    def describe(self) -> str:
        return f"{self.focal_length_mm:g} mm lens on a {self.film_width_mm:g} mm film width ({self.source})"


#: DAZ Studio's default camera: a 65 mm lens on a 36 mm film width.
DEFAULT_CAMERA = Camera()


_FOCAL_ENDINGS = ("focallength",)
_FILM_ENDINGS = (
    "filmwidth",
    "filmbackwidth",
    "framewidth",
    "sensorwidth",
    "aperturex",
    "horizontalaperture",
    "horizontalfilmaperture",
)
_FOV_ENDINGS = ("horizontalfov", "fovx", "fov", "fieldofview")


def _number(value: Any) -> float | None:
    """A header value as a finite float: numbers, one-element arrays, numeric strings (``"65mm"``); else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return None
        value = value.reshape(()).item()
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(mm)?\s*", value)
        if not match:
            return None
        value = float(match.group(1))
    if not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _header_value(
    attributes: Mapping[str, Any], endings: tuple[str, ...], low: float, high: float
) -> tuple[str, float] | None:
    """The first attribute whose name (lower case, letters and digits only) ends in one of ``endings`` and whose
    value is a number in ``low..high``."""
    for key, value in attributes.items():
        word = re.sub(r"[^a-z0-9]", "", str(key).lower())
        if word.endswith(endings):
            number = _number(value)
            if number is not None and low <= number <= high:
                return str(key), number
    return None


def camera_from_header(attributes: Mapping[str, Any], default: Camera = DEFAULT_CAMERA) -> Camera:
    """The camera an EXR header describes, or ``default`` where it says nothing usable.

    Looks for a focal length (an attribute named like ``focalLength``, ``focal_length``, ``IFM_focalLength``,
    ``cameraFocalLength``; 1 to 10000 mm), a film width (``filmWidth``, ``apertureX``, ``horizontalAperture``,
    ``sensorWidth``...; 8 to 200 mm, or 0.04 to 8 taken as inches, as Maya writes them) and, without a focal
    length, a horizontal field of view (``fov``, ``fieldOfView``, ``horizontalFov``; degrees). OpenEXR's standard
    ``aperture`` is an f-number and is not used.
    """
    focal = _header_value(attributes, _FOCAL_ENDINGS, 1.0, 10000.0)
    film = _header_value(attributes, _FILM_ENDINGS, 0.04, 200.0)
    film_mm, film_note = default.film_width_mm, ""
    if film is not None:
        key, value = film
        film_mm, film_note = (value * 25.4, f"{key} {value:g} in") if value < 8 else (value, f"{key} {value:g} mm")
    if focal is not None:
        key, value = focal
        source = f"header: {key} {value:g} mm" + (f", {film_note}" if film_note else f", film width {film_mm:g} mm")
        return Camera(value, film_mm, source)
    fov = _header_value(attributes, _FOV_ENDINGS, 1.0, 179.0)
    if fov is not None:
        key, value = fov
        focal_mm = film_mm / 2 / math.tan(math.radians(value) / 2)
        return Camera(focal_mm, film_mm, f"header: {key} {value:g} degrees, taken as horizontal")
    if film is not None:
        return Camera(default.focal_length_mm, film_mm, f"header: {film_note}; focal length of {default.source}")
    return default


def rotation_from_header(attributes: Mapping[str, Any]) -> tuple[np.ndarray | None, str]:
    """The world-to-camera rotation in the header's ``worldToCamera``, in this module's camera axes.

    OpenEXR defines ``worldToCamera`` for row vectors (``p_camera = p_world · M``, translation in the last row)
    and a left-handed camera space looking down +z; this module's camera looks down -z. A matrix with its
    translation in the last column is read as written for column vectors; one whose rotation is proper (a
    right-handed camera) is taken as an OpenGL-style camera looking down -z. Scale is removed.

    Returns
    -------
    (rotation, note)
        ``rotation`` maps world normals to camera normals (``n_camera = rotation @ n_world``), ``None`` when the
        header has no usable matrix; ``note`` says what was read ("" when there is no ``worldToCamera``).
    """
    if "worldToCamera" not in attributes:
        return None, ""
    matrix = (
        np.asarray(attributes["worldToCamera"], dtype=np.float64) if _is_numeric(attributes["worldToCamera"]) else None
    )
    if matrix is None or matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        return None, "the header's worldToCamera is not a 4x4 matrix of numbers; ignored"
    linear = matrix[:3, :3].T  # row vectors -> column vectors
    layout = "row vectors, as OpenEXR defines it"
    if np.any(matrix[:3, 3]) and not np.any(matrix[3, :3]):
        linear, layout = matrix[:3, :3], "column vectors (translation in the last column)"
    u, s, vt = np.linalg.svd(linear)
    if s[-1] <= 1e-9 * s[0]:
        return None, "the header's worldToCamera is singular; ignored"
    rotation = u @ vt
    if np.linalg.det(rotation) < 0:  # OpenEXR's left-handed camera looking down +z: turn z around
        rotation = np.diag([1.0, 1.0, -1.0]) @ rotation
        handed = "left-handed camera space (OpenEXR's)"
    else:
        handed = "right-handed camera space, taken as looking down -z"
    return rotation, f"rotation from the header's worldToCamera ({layout}; {handed})"


def _is_numeric(value: Any) -> bool:
    try:
        return np.asarray(value).dtype.kind in "iuf"
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------------------------
# The rotation from world to camera space, fitted


@dataclass(frozen=True, eq=False)
class RotationFit:
    """A least-squares rotation between two sets of unit vectors (:func:`fit_rotation`).

    Attributes
    ----------
    rotation:
        3x3 rotation, ``target ≈ rotation @ source``.
    median_error_deg, p90_error_deg:
        Angles between ``rotation @ source`` and ``target`` over all pairs given, weighted as given (median, 90th
        percentile).
    angle_deg:
        How far the rotation turns.
    used:
        Pairs kept in the last round (the rest were trimmed as outliers).
    well_posed:
        False when the vectors nearly all point one way, so that turning about that direction is undetermined.
    """

    rotation: np.ndarray
    median_error_deg: float
    p90_error_deg: float
    angle_deg: float
    used: int
    well_posed: bool = True


def angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles in degrees between the rows of two arrays of unit vectors."""
    return np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", a, b), -1.0, 1.0)))


def rotation_angle(rotation: np.ndarray) -> float:
    """How far a 3x3 rotation turns, in degrees."""
    return float(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1.0, 1.0))))


def direction_weights(normals: np.ndarray, bins: int = 8) -> np.ndarray:
    """Weights that give every direction the same say: 1 / (pairs in the same cell of a bins³ grid over the cube
    -1..1). A backdrop filling most of the frame then counts as one direction among the figure's many."""
    cells = np.clip(((np.asarray(normals) + 1) * (bins / 2)).astype(int), 0, bins - 1)
    index = (cells[:, 0] * bins + cells[:, 1]) * bins + cells[:, 2]
    counts = np.bincount(index, minlength=bins**3)
    return 1.0 / counts[index]


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The value below which the share ``q`` (0..1) of the weight lies."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, q * cumulative[-1])])


def fit_rotation(
    source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None, keep: float = 0.8, rounds: int = 3
) -> RotationFit:
    """The rotation that best turns unit vectors ``source`` onto ``target`` (weighted Kabsch, by SVD), trimmed.

    Each round after the first refits on the pairs that the previous rotation matched best, holding the ``keep``
    share of the weight, so pixels where the two disagree for other reasons (edges, mis-estimated depth normals)
    do not pull the result. The errors reported are weighted too.

    Parameters
    ----------
    source, target:
        (n, 3) arrays of unit vectors, n >= 3.
    weights:
        (n,) positive weights (e.g. :func:`direction_weights`); ``None``: equal.
    keep:
        Share of the weight kept in each refit (0.5..1).
    rounds:
        Refits after the first.

    Raises
    ------
    ValueError
        Shapes that do not match, fewer than three pairs, or ``keep`` outside 0.5..1.
    """
    a = np.asarray(source, np.float64)
    b = np.asarray(target, np.float64)
    if a.ndim != 2 or a.shape[1] != 3 or a.shape != b.shape:
        raise ValueError(f"expected two (n, 3) arrays of the same shape, got {a.shape} and {b.shape}")
    if len(a) < 3:
        raise ValueError(f"a rotation needs at least three pairs of vectors, got {len(a)}")
    if not 0.5 <= keep <= 1:
        raise ValueError(f"keep must lie between 0.5 and 1, not {keep}")
    w = np.ones(len(a)) if weights is None else np.asarray(weights, np.float64)
    if w.shape != (len(a),) or not np.all(w > 0):
        raise ValueError(f"weights must be {len(a)} positive numbers")
    chosen = np.ones(len(a), bool)
    for _ in range(rounds + 1):
        u, s, vt = np.linalg.svd((a[chosen] * w[chosen, None]).T @ b[chosen])
        mirror = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
        rotation = vt.T @ np.diag([1.0, 1.0, mirror]) @ u.T
        errors = angles_deg(a @ rotation.T, b)
        chosen = errors <= weighted_quantile(errors, w, keep)
    return RotationFit(
        rotation,
        weighted_quantile(errors, w, 0.5),
        weighted_quantile(errors, w, 0.9),
        rotation_angle(rotation),
        int(np.count_nonzero(chosen)),
        bool(s[1] > 0.05 * s[0]),
    )
