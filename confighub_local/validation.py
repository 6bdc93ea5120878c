"""Request-body validation: pydantic models built from the spec's field types.

Unknown fields are dropped (the hosted API ignores them); a wrong type is a 400 naming the field.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from functools import cache
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    create_model,
)

from confighub_local.errors import ApiError
from confighub_local.schema_fields import FIELDS

MAX_DEPTH = 64  # nesting of a body's objects and arrays (SQLite's JSON functions stop at 1000)
SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"

_TYPES: dict[str, Any] = {
    "str": StrictStr,
    "uuid": StrictStr,
    "time": StrictStr,
    "base64": StrictStr,
    "int": StrictInt,
    "number": StrictInt | float,
    "bool": StrictBool,
    "map_str": dict[str, StrictStr],
    "map_bool": dict[str, StrictBool],
    "map_any": dict[str, Any],
    "list_str": list[StrictStr],
    "list_any": list[Any],
    "object": dict[str, Any],
    "any": Any,
}


@cache
def model_for(kind: str) -> type[BaseModel]:
    """A typed model of one entity's fields (all optional; required ones checked after)."""
    fields: dict[str, Any] = {}
    for name, tname in FIELDS[kind].items():
        ftype: Any = _TYPES[tname]
        if name == "Slug":
            ftype = Annotated[StrictStr, Field(pattern=SLUG_PATTERN, max_length=255)]
        fields[name] = (ftype | None, None)
    config = ConfigDict(extra="ignore")
    model: type[BaseModel] = create_model(f"{kind}Body", __config__=config, **fields)
    return model


def validate_body(kind: str, body: Any, *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check a JSON body against the kind's field types; return only the fields it set."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, f"request body for {kind} must be a JSON object")
    _check_json(kind, body)
    try:
        parsed = model_for(kind).model_validate(body)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            parts.append(f"{kind}.{loc}: {err['msg']}")
        raise ApiError(400, "; ".join(parts)) from None
    out = parsed.model_dump(exclude_unset=True)
    for name in required:
        if out.get(name) in (None, ""):
            raise ApiError(400, f"{kind}.{name} is required")
    for name, tname in FIELDS[kind].items():
        value = out.get(name)
        if value is None:
            continue
        if tname == "uuid" and value != "":
            out[name] = check_uuid(value, f"{kind}.{name}")  # stored lower case
        if tname == "base64":
            decode_b64(value, f"{kind}.{name}")
    return out


def _check_json(kind: str, body: Any) -> None:
    """What the stored document must not contain, because SQLite's JSON functions (and
    PostgreSQL) refuse it and every later query over the kind would fail: nesting deeper than
    MAX_DEPTH, NaN/Infinity, strings that are not valid Unicode (unpaired surrogates)."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            if level > MAX_DEPTH:
                raise ApiError(400, f"request body for {kind} nests deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                stack.extend((key, level) for key in item)
                stack.extend((child, level + 1) for child in item.values())
            else:
                stack.extend((child, level + 1) for child in item)
        elif isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                raise ApiError(
                    400,
                    f"request body for {kind} has a string that is not valid Unicode "
                    f"(unpaired surrogate): {item[:40]!r}",
                ) from None
        elif isinstance(item, float) and not math.isfinite(item):
            raise ApiError(400, f"request body for {kind} has {item!r}, which is not JSON")


def storable_json(kind: str, doc: Any) -> str:
    """A document as stored JSON text. The last guard for every write path (worker results
    included): NaN/Infinity or an unpaired surrogate would make SQLite's JSON functions fail
    on every later query over the kind, so they are refused here (400)."""
    try:
        text = json.dumps(doc, allow_nan=False)
    except ValueError:
        raise ApiError(400, f"{kind} would store NaN or Infinity, which is not JSON") from None
    if "\\ud" in text:  # an escaped surrogate: fine in a pair, not alone
        try:
            json.dumps(doc, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise ApiError(400, f"{kind} would store a string that is not valid Unicode") from None
    return text


def check_uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise ApiError(400, f"{what} must be a UUID, got {value!r}") from None


def decode_b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{what} is not valid base64") from None


def encode_b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
