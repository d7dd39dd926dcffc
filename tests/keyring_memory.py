"""An in-memory keyring backend for tests: a real `KeyringBackend`, so keyring's API is exercised.

Its priority raises, so keyring's own detection treats it as not viable. The autouse fixture in
`tests/conftest.py` installs a fresh one for every test.
"""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError, PasswordSetError


class MemoryKeyring(KeyringBackend):
    """Keep passwords in a dict keyed by (service, username).

    `fail_with` makes every call raise it; `max_length` makes `set_password` reject longer values,
    as Windows Credential Manager rejects values over 2,560 bytes (about 1,280 characters).
    """

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.fail_with: Exception | None = None
        self.max_length: int | None = None

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("MemoryKeyring is for tests and is never chosen automatically")

    def get_password(self, service: str, username: str) -> str | None:
        self._maybe_fail()
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._maybe_fail()
        if self.max_length is not None and len(password) > self.max_length:
            raise PasswordSetError(f"value longer than {self.max_length} characters")
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._maybe_fail()
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise PasswordDeleteError("Password not found") from None

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with
