"""The one family of errors the Leaf client raises, each of which renders as one plain sentence.

The window and the terminal both show `LeafError.sentence()`. `details` carries what a curious
operator can expand (status code, Leaf's problem body, the request's method and path, never a
token or a password).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One rejected field of a request, from LeafDesk's own checks or from Leaf's `fieldErrors`."""

    field: str
    message: str


class LeafError(Exception):
    """Base of every error the core raises about talking to Leaf.

    `action` is the operation that failed ("load the credential"). `leaf_user` names the Leaf
    user it concerns when there is one (a name where known, else the id).
    """

    def __init__(
        self,
        message: str,
        *,
        action: str | None = None,
        leaf_user: str | None = None,
        status_code: int | None = None,
        details: str | None = None,
        error_key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.action = action
        self.leaf_user = leaf_user
        self.status_code = status_code
        self.details = details
        # The `errorKey` of Leaf's problem response, when it sent one.
        self.error_key = error_key

    def sentence(self) -> str:
        """Return the error as one plain sentence naming the Leaf user and what failed."""
        subject = f"Could not {self.action}" if self.action else "The request to Leaf failed"
        if self.leaf_user:
            subject += f" for {self.leaf_user}"
        reason = self.message.rstrip(".")
        return f"{subject}: {reason}."

    def about(self, *, leaf_user: str | None = None, action: str | None = None) -> LeafError:
        """Fill in the Leaf user and action that the raiser left unset, and return self.

        The client has only a Leaf user's id, so a name given here replaces an id already set.
        The operator then reads "for Cedar Valley Farms", not a UUID.
        """
        if leaf_user and (not self.leaf_user or _is_uuid(self.leaf_user)):
            self.leaf_user = leaf_user
        if action and not self.action:
            self.action = action
        return self


class OfflineError(LeafError):
    """Leaf could not be reached at all: no network, no DNS, connection refused or timed out."""


class TimedOutError(OfflineError):
    """Leaf accepted the connection but did not respond within the read or write timeout."""


class OutcomeUnknownError(OfflineError):
    """A change (POST or DELETE) that may have reached Leaf but got no response.

    Reading the record back did not settle whether the change took effect.
    """


class TlsError(LeafError):
    """The connection reached a server but its certificate was not trusted."""


class SignedOutError(LeafError):
    """Leaf rejected the sign-in, or the token after signing in again (HTTP 401)."""


class PermissionDeniedError(LeafError):
    """Leaf rejected the request for this account (HTTP 403)."""


class NotFoundError(LeafError):
    """The Leaf user, credential or app key does not exist (HTTP 404)."""


class ConflictError(LeafError):
    """The request clashes with what exists, such as a second Panorama credential (HTTP 409)."""

    def __init__(self, message: str, *, error_key: str | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.error_key = error_key


class ValidationError(LeafError):
    """The request was rejected field by field, by LeafDesk before sending or by Leaf (HTTP 400)."""

    def __init__(
        self,
        message: str,
        *,
        field_errors: list[FieldError] | tuple[FieldError, ...] = (),
        error_key: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(message, **kwargs)
        self.field_errors = tuple(field_errors)
        self.error_key = error_key

    def for_field(self, name: str) -> str | None:
        """Return the message for one field, or None when that field passed."""
        for error in self.field_errors:
            if error.field == name:
                return error.message
        return None


class RateLimitedError(LeafError):
    """Leaf rate-limited LeafDesk (HTTP 429) and retries did not get through."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(LeafError):
    """Leaf, or a proxy in front of it, failed (HTTP 5xx) and retries did not get through."""


class MalformedResponseError(LeafError):
    """Leaf returned a response that LeafDesk cannot read as the documented shape."""


class CancelledByOperator(LeafError):
    """The operator cancelled the operation before it finished."""


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
