"""Errors a service raises for a refused action. Blueprints map them to their medium
(JSON error, flash message, one-line CLI error); the codes are those of docs/api.md."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field  # the form field at fault, where a form has to show it


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class InvalidTransition(ServiceError):
    status, code = 422, "invalid_transition"


class NoteRequired(ServiceError):
    status, code = 422, "note_required"


class ValidationError(ServiceError):
    status, code = 422, "validation"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"


class StatementsPending(ServiceError):
    """A transition that requires statements while some requested statement is still open."""

    status, code = 422, "statements_pending"


class TooManyAttempts(ServiceError):
    """Too many wrong passwords in a short time: ``wait`` seconds until the next attempt counts."""

    status, code = 429, "too_many_requests"

    def __init__(self, wait: int):
        from flask_babel import gettext as _

        super().__init__(_("Too many attempts. Please wait %(seconds)s seconds before you try again.", seconds=wait))
        self.wait = wait
