"""Problem responses and request checks shared by every sandbox route.

Every error leaves the sandbox as `application/problem+json` with `type`, `title`, `status`,
`detail`, `path` and `message`, plus `errorKey` where one applies and `fieldErrors` for a 400 on a
request body. [ours: Leaf publishes only one sample of this JHipster shape]
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

MAX_BODY_BYTES = 1024 * 1024
PROBLEM_TYPE = "about:blank"
VALIDATION_TYPE = "https://leafdesk.example/problem/constraint-violation"


@dataclass(slots=True)
class FieldError:
    object_name: str
    field: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"objectName": self.object_name, "field": self.field, "message": self.message}


@dataclass(slots=True)
class ProblemError(Exception):
    """Raised by a route to respond with a problem body."""

    status: int
    detail: str
    error_key: str | None = None
    field_errors: list[FieldError] = field(default_factory=list)
    title: str | None = None
    headers: dict[str, str] | None = None


def problem_body(status: int, detail: str, path: str, *, error_key: str | None = None,
                 field_errors: list[FieldError] | None = None,
                 title: str | None = None) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if field_errors:
        message = "error.validation"
    elif error_key:
        message = f"error.{error_key}"
    else:
        message = f"error.http.{status}"
    body: dict[str, Any] = {
        "type": VALIDATION_TYPE if field_errors else PROBLEM_TYPE,
        "title": title or ("Method argument not valid" if field_errors else phrase),
        "status": status,
        "detail": detail,
        "path": path,
        "message": message,
    }
    if error_key:
        body["errorKey"] = error_key
    if field_errors:
        body["fieldErrors"] = [error.as_json() for error in field_errors]
    return body


def problem_response(status: int, detail: str, path: str, *, error_key: str | None = None,
                     field_errors: list[FieldError] | None = None, title: str | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    body = problem_body(status, detail, path, error_key=error_key, field_errors=field_errors,
                        title=title)
    return JSONResponse(body, status_code=status, headers=headers,
                        media_type="application/problem+json")


def problem_from_error(error: ProblemError, path: str) -> Response:
    return problem_response(error.status, error.detail, path, error_key=error.error_key,
                            field_errors=error.field_errors, title=error.title,
                            headers=error.headers)


async def read_json_object(request: Request) -> dict[str, Any]:
    """Read a JSON object body of at most 1 MiB, or raise the matching problem."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > MAX_BODY_BYTES
        except ValueError:
            raise ProblemError(400, "The Content-Length header is not a number.") from None
        if too_big:
            raise _too_large()

    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    raw = b"".join(chunks)

    if not raw.strip():
        raise ProblemError(400, "The request body is missing. Send a JSON object.",
                           error_key="bodyMissing")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProblemError(400, f"The request body is not valid JSON: {error}.",
                           error_key="bodyNotJson") from None
    except RecursionError:
        raise ProblemError(400, "The request body nests JSON too deeply.",
                           error_key="bodyNotJson") from None
    if not isinstance(body, dict):
        raise ProblemError(400, "The request body must be a JSON object.",
                           error_key="bodyNotObject")
    return body


def _too_large() -> ProblemError:
    return ProblemError(413, f"The request body is over {MAX_BODY_BYTES} bytes (1 MiB).",
                        error_key="bodyTooLarge")


def check_uuid(value: str, what: str) -> str:
    """Return `value` in canonical form, or raise a 400 problem when it is not a UUID."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ProblemError(400, f"The {what} {value!r} is not a UUID.",
                           error_key="idInvalid") from None


class BodyChecker:
    """Collects field errors for one request body, then raises them all at once."""

    def __init__(self, body: dict[str, Any], object_name: str) -> None:
        self.body = body
        self.object_name = object_name
        self.errors: list[FieldError] = []

    def fail(self, field_name: str, message: str) -> None:
        self.errors.append(FieldError(self.object_name, field_name, message))

    def text(self, field_name: str, *, required: bool = True, max_length: int = 1000) -> str | None:
        """Return a string field, recording an error when it is missing, blank or not text."""
        value = self.body.get(field_name)
        if value is None:
            if required:
                self.fail(field_name, "must not be null")
            return None
        if not isinstance(value, str):
            self.fail(field_name, "must be a string")
            return None
        if not value.strip():
            if required:
                self.fail(field_name, "must not be blank")
            return None
        if len(value) > max_length:
            self.fail(field_name, f"size must be at most {max_length}")
            return None
        return value

    def choice(self, field_name: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(field_name)
        if value is not None and value not in allowed:
            self.fail(field_name, f"must be one of {', '.join(allowed)}")
            return None
        return value

    def uuid(self, field_name: str, *, required: bool = True) -> str | None:
        value = self.text(field_name, required=required)
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            self.fail(field_name, "must be a UUID")
            return None

    def email(self, field_name: str) -> str | None:
        value = self.text(field_name, max_length=254)
        if value is None:
            return None
        local, at, domain = value.partition("@")
        if not at or not local or "." not in domain or any(ch.isspace() for ch in value):
            self.fail(field_name, "must be a well-formed email address")
            return None
        return value

    def raise_if_failed(self) -> None:
        if self.errors:
            fields = ", ".join(sorted({error.field for error in self.errors}))
            raise ProblemError(400, f"The request body has invalid fields: {fields}.",
                               field_errors=self.errors)
