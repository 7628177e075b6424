"""The JSON API, ``/api/v1`` (docs/api.md)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..errors import ServiceError
from ..security import limiter, token_key, without_token

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Token use is limited per token (so per account) and per address.
limiter.limit(lambda: current_app.config["API_LIMIT_PER_TOKEN"], key_func=token_key, exempt_when=without_token)(bp)
limiter.limit(lambda: current_app.config["API_LIMIT_PER_ADDRESS"])(bp)

#: Error codes for HTTP errors raised outside our services (routing, body size, ...).
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation",
    429: "too_many_requests",
    500: "internal_error",
}


def error_response(status: int, message: str, code: str | None = None):
    response = jsonify({"error": {"code": code or HTTP_CODES.get(status, "error"), "message": message}})
    response.status_code = status
    return response


@bp.errorhandler(ServiceError)
def service_error(error: ServiceError):
    response = error_response(error.status, error.message, error.code)
    wait = getattr(error, "wait", None)
    if isinstance(wait, int):  # TooManyAttempts: when the next attempt counts
        response.headers["Retry-After"] = str(wait)
    return response


from . import views  # noqa: E402,F401
