"""API errors rendered as the spec's StandardErrorResponse ({"Code", "Message"})."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("confighub_local")

_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "BadRequest",
    429: "TooManyRequests",
    500: "InternalError",
    503: "Unavailable",
}


class ApiError(Exception):
    """Raised anywhere in a request; becomes an error body with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, f"{kind} {ident} not found")


def error_body(status: int, message: str) -> dict[str, str]:
    return {"Code": _CODES.get(status, "Error"), "Message": message}


def install(app: FastAPI) -> None:
    """Route every failure, including framework ones, through the same error body (and let the
    vendor's older `cub` CLI decode it: see compat.py)."""
    from confighub_local.compat import CubCompatMiddleware

    app.add_middleware(CubCompatMiddleware)

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.message), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code in (404, 405) and message in ("Not Found", "Method Not Allowed"):
            message = f"{message}: no route for {request.method} {request.url.path}"
        return JSONResponse(
            error_body(exc.status_code, message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body(500, f"internal error ({type(exc).__name__}); see the server log"),
            status_code=500,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = err.get("loc", ())
            if err.get("type") == "json_invalid":
                detail = (err.get("ctx") or {}).get("error", "")
                pos = loc[1] if len(loc) > 1 else "?"
                parts.append(f"request body is not valid JSON (at character {pos}): {detail}")
                continue
            where = ".".join(str(p) for p in loc)
            parts.append(f"{where}: {err.get('msg')}")
        return JSONResponse(error_body(400, "; ".join(parts) or "invalid request"), status_code=400)
