"""HTTP hardening: security headers, proxy and host settings, cookies, and the API's rate limits
(sign-in and password checks are throttled in the database: app/services/throttle.py).

Configured from the environment (see README, "Production"):
RATSCHLAG_HTTPS=1            served over HTTPS: Secure cookies and HSTS
RATSCHLAG_PROXY_FIX=N        trust N reverse proxies for X-Forwarded-For/-Proto/-Host
RATSCHLAG_TRUSTED_HOSTS=a,b  answer only for these Host names
RATSCHLAG_RATELIMIT_STORAGE_URL=redis://…   share the API's rate limits between servers (default: in memory)
"""

from __future__ import annotations

import hashlib

from flask import Flask, abort, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def init_app(app: Flask) -> None:
    config = app.config
    https = str(config.get("HTTPS", "")).lower() in ("1", "true", "yes")
    if https:
        config["SESSION_COOKIE_SECURE"] = config["REMEMBER_COOKIE_SECURE"] = True
    config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    if config.get("TRUSTED_HOSTS") and isinstance(config["TRUSTED_HOSTS"], str):
        config["TRUSTED_HOSTS"] = [h.strip() for h in config["TRUSTED_HOSTS"].split(",") if h.strip()]
    proxies = int(config.get("PROXY_FIX") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way to wrap it
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    @app.before_request
    def refuse_nul_characters():
        # No text anywhere may hold NUL (PostgreSQL cannot store it): refuse it at the edge.
        if (
            "\x00" in request.path
            or any("\x00" in value for value in request.args.values())
            or (
                request.mimetype == "application/x-www-form-urlencoded"
                and any("\x00" in value for value in request.form.values())
            )
        ):
            abort(400, description="NUL characters are not allowed in addresses, queries or forms.")

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if https or request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    config.setdefault("RATELIMIT_STORAGE_URI", config.get("RATELIMIT_STORAGE_URL") or "memory://")
    config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def token_key() -> str:
    """API requests with a token count per token (so per account)."""
    return "token:" + hashlib.sha256((_bearer() or "").encode()).hexdigest()


def without_token() -> bool:
    """Requests without a token count only per address."""
    return _bearer() is None
