"""The API's requests as models, for its OpenAPI schema (``/openapi.json``, the WebUI's ``/docs``).

The routes read their bodies themselves, as they arrive (:mod:`daz_depthmap.http.body`); these pydantic models
(pydantic 1 under the WebUI's pins, 2 under Forge's) only describe them, for JSON and for a multipart upload, so that
a script's author sees ``image``, ``name``, ``options`` ... as for ``/sdapi/v1/txt2img``. The option names, types
and help come from :data:`~daz_depthmap.params.OPTIONS`, as the command line's do.
"""

from __future__ import annotations

from typing import Any, Dict, Literal, Optional  # noqa: UP035 - pydantic 1 reads these annotations at runtime

from pydantic import BaseModel, Field

from ..bands.plan import Allocation
from ..params import OPTIONS

_IMAGE = "the EXR file as base64 (a data: URL too), as the WebUI's API takes images"
_FILE = "the EXR file"
_NAME = "the file's name, for the messages (default upload.exr; a multipart upload's own file name)"
_OPTIONS = "the command line's options, by name (depth_cutoff, near_cutoff, compress_map, mask, ...)"
_RECIPE = "a recipe document the tab exported, instead of options, bands and allocate"
_BANDS = "the command line's --bands text (e.g. '180,400'), or 'auto' to split at the histogram's gaps"
_ALLOCATE = "how bands without locked levels share the levels: over the pixels (default), the depth, or equally"
_REGIONS = "also make the region map for Regional Prompter (and region_list)"
_SPLIT = "each connected part of a region its own region, left to right"
_MIN_AREA = "connected parts smaller than this many pixels are no region"
_CHANNEL = "the depth channel's name (default: found from the file's channels)"
_INVERT = "larger values are nearer (as some renderers write depth)"

AllocationName = Literal[tuple(mode.value for mode in Allocation)]  # type: ignore[valid-type]


class DepthMapRequest(BaseModel):
    """``POST /daz-depthmap/v1/depth-map`` as JSON."""

    image: str = Field(..., description=_IMAGE)
    name: str = Field("upload.exr", description=_NAME)
    options: Optional[Dict[str, Any]] = Field(None, description=_OPTIONS)  # noqa: UP006
    recipe: Optional[Dict[str, Any]] = Field(None, description=_RECIPE)  # noqa: UP006
    bands: Optional[str] = Field(None, description=_BANDS)
    allocate: Optional[AllocationName] = Field(None, description=_ALLOCATE)  # type: ignore[valid-type]
    regions: bool = Field(False, description=_REGIONS)
    split_parts: bool = Field(False, description=_SPLIT)
    min_area: int = Field(0, ge=0, description=_MIN_AREA)


class DepthMapUpload(BaseModel):
    """``POST /daz-depthmap/v1/depth-map`` as a multipart upload: the file, the other fields as form fields (those
    holding JSON as JSON text)."""

    file: bytes = Field(..., description=_FILE)
    name: Optional[str] = Field(None, description=_NAME)
    options: Optional[str] = Field(None, description=_OPTIONS + ", as JSON text")
    recipe: Optional[str] = Field(None, description=_RECIPE + ", as JSON text")
    bands: Optional[str] = Field(None, description=_BANDS)
    allocate: Optional[AllocationName] = Field(None, description=_ALLOCATE)  # type: ignore[valid-type]
    regions: bool = Field(False, description=_REGIONS)
    split_parts: bool = Field(False, description=_SPLIT)
    min_area: int = Field(0, ge=0, description=_MIN_AREA)


class HistogramRequest(BaseModel):
    """``POST /daz-depthmap/v1/histogram`` as JSON."""

    image: str = Field(..., description=_IMAGE)
    name: str = Field("upload.exr", description=_NAME)
    channel: Optional[str] = Field(None, description=_CHANNEL)
    invert: bool = Field(False, description=_INVERT)


class HistogramUpload(BaseModel):
    """``POST /daz-depthmap/v1/histogram`` as a multipart upload."""

    file: bytes = Field(..., description=_FILE)
    name: Optional[str] = Field(None, description=_NAME)
    channel: Optional[str] = Field(None, description=_CHANNEL)
    invert: bool = Field(False, description=_INVERT)


class ErrorReply(BaseModel):
    """Every refusal: a 4xx (or 503) status and what is wrong, naming the file."""

    error: str = Field(..., description="NAME: what is wrong")


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema, inline (no references), under pydantic 2 or 1."""
    pydantic2 = hasattr(model, "model_json_schema")
    schema = model.model_json_schema() if pydantic2 else model.schema()
    schema.pop("$defs", None)
    schema.pop("definitions", None)
    properties = schema.get("properties", {})
    if "options" in properties and "image" in properties:  # the JSON request: each option described
        properties["options"] = {
            **properties["options"],
            "type": "object",
            "properties": {option.name: option.schema() for option in OPTIONS},
            "additionalProperties": False,
        }
        properties["options"].pop("anyOf", None)
    if "file" in properties:
        properties["file"] = {"type": "string", "format": "binary", "description": _FILE}
    return schema


def request_body(json_model: type[BaseModel], form_model: type[BaseModel]) -> dict[str, Any]:
    """An operation's ``requestBody`` and error answers for ``openapi_extra``: the JSON and multipart forms."""
    error = {"content": {"application/json": {"schema": model_schema(ErrorReply)}}}
    refusals = {
        "400": "a field, option, JSON or base64 that is wrong",
        "401": "wrong or missing credentials (--api-auth)",
        "403": "a cross-site request (another site's page)",
        "404": "the API is off (the WebUI's --api)",
        "408": "the body did not arrive in time",
        "413": "a body over the limit, or an image over the pixel limit",
        "415": "not JSON or multipart, or not an EXR",
        "422": "an EXR that cannot be read, or options that do not fit it",
        "503": "the server is busy (see Retry-After)",
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": model_schema(json_model)},
                "multipart/form-data": {"schema": model_schema(form_model)},
            },
        },
        "responses": {status: {"description": text, **error} for status, text in refusals.items()},
    }
