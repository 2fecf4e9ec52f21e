"""Output file names: what each output of an input is called, names made safe, and the one rule for two inputs
that would write the same name (the command line and the tab both use :class:`StemClaims`)."""

from __future__ import annotations

import os
import re
from collections.abc import Hashable
from pathlib import Path

DEPTH_SUFFIX = ".depth.png"
MASK_SUFFIX = ".mask.png"
REGIONS_SUFFIX = ".regions.png"
TEST_SUFFIX = ".test.png"
RECIPE_SUFFIX = ".recipe.json"
NORMAL_SUFFIX = ".normal.png"
BEAUTY_SUFFIX = ".beauty.png"

#: A stem made from an uploaded name keeps at most this many characters, and this many bytes of UTF-8 (a CJK
#: character takes 3): with a ``-N`` and the longest suffix the name stays under the 255 bytes file systems allow.
STEM_CHARS = 120
STEM_BYTES = 200

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def stem_of(name: str) -> str:
    """``scene.exr`` -> ``scene`` (the ``.exr`` ending in any case; other names unchanged)."""
    return name[:-4] if name.lower().endswith(".exr") else name


def output_path(
    source: str | os.PathLike[str], suffix: str, out_dir: str | os.PathLike[str] | None = None, stem: str | None = None
) -> Path:
    """Where one output of ``source`` goes: ``STEM`` + ``suffix`` beside it or in ``out_dir``."""
    source = Path(source)
    folder = Path(out_dir) if out_dir is not None else source.parent
    return folder / f"{stem if stem is not None else stem_of(source.name)}{suffix}"


def output_paths(
    source: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None, stem: str | None = None
) -> tuple[Path, Path]:
    """Where the depth map and mask of ``source`` go: ``STEM.depth.png``, ``STEM.mask.png`` beside it or in
    ``out_dir``; ``stem`` defaults to the source's name without ``.exr``."""
    return output_path(source, DEPTH_SUFFIX, out_dir, stem), output_path(source, MASK_SUFFIX, out_dir, stem)


def cut_to_bytes(text: str, budget: int) -> str:
    """``text`` cut to at most ``budget`` bytes of UTF-8, at a character boundary."""
    return text.encode("utf-8")[:budget].decode("utf-8", errors="ignore")


def safe_stem(name: str, fallback: str = "depth") -> str:
    """A file-name stem made from an uploaded file's name that cannot leave its folder.

    Folders (``/``, ``\\``), ``..``, control and shell-hostile characters, leading dots and Windows reserved
    names are removed; the ``.exr`` ending is dropped. At most :data:`STEM_CHARS` characters and
    :data:`STEM_BYTES` bytes of UTF-8 are kept (file systems count bytes: 255 at most for a name), so a ``-N``
    and the longest output suffix still fit.
    """
    base = re.split(r"[\\/]", name)[-1]
    base = stem_of(base)
    base = re.sub(r"[^\w.\- ()\[\]+,=@]", "_", base, flags=re.UNICODE)
    base = base.strip(" .")
    base = cut_to_bytes(re.sub(r"\.{2,}", ".", base)[:STEM_CHARS], STEM_BYTES).strip(" .")
    if not base or base.split(".")[0].upper() in _WINDOWS_RESERVED:
        base = f"{fallback}_{base}" if base else fallback
    return base


class StemClaims:
    """Who writes which output names in one folder: the first input keeps its stem, another input with the same
    stem gets ``stem-2``, ``stem-3``, ... (so no input's outputs overwrite another's in one run or one session).

    Stems are compared without regard to case, as Windows and macOS compare file names. An owner is anything
    hashable that stands for one input (its resolved path, a session's file key); the same owner asking again keeps
    its stem.
    """

    def __init__(self) -> None:
        self._owner_of: dict[tuple[str, str], Hashable] = {}  # (folder, stem casefolded) -> owner
        self._held: dict[Hashable, tuple[tuple[str, str], str, str]] = {}  # owner -> (that key, stem given, asked)

    def claim(self, stem: str, owner: Hashable, folder: str | os.PathLike[str] = "") -> str:
        """The stem ``owner``'s outputs use in ``folder``: ``stem`` when free, else the first free ``stem-N``."""
        place = os.path.normcase(os.path.abspath(folder)) if str(folder) else ""
        held = self._held.get(owner)
        if held is not None and held[0][0] == place and held[2] == stem:
            return held[1]
        self.release(owner)
        candidate, number = stem, 2
        while (place, candidate.casefold()) in self._owner_of:
            candidate = f"{stem}-{number}"
            number += 1
        key = (place, candidate.casefold())
        self._owner_of[key] = owner
        self._held[owner] = (key, candidate, stem)
        return candidate

    def release(self, owner: Hashable) -> None:
        """Forget ``owner``'s stem (a removed file): another input may take it now."""
        held = self._held.pop(owner, None)
        if held is not None:
            self._owner_of.pop(held[0], None)
