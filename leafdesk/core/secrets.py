"""Passwords and the Leaf token in the OS keychain through keyring, imported here and nowhere else.

Where no usable keychain exists (keyring resolved its fail or null backend, or the backend raises),
the store logs one warning and keeps values in memory for this run only. It never writes a file,
and it rejects keyring backends that store secrets in a plain file.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from leafdesk.core.model import Secret

if TYPE_CHECKING:
    import keyring.backend

log = logging.getLogger(__name__)

SERVICE_NAME = "LeafDesk"

LEAF_PASSWORD = "leaf-password"  # key: the Leaf account name
LEAF_TOKEN = "leaf-token"  # key: the Leaf account name
PARTNER_PASSWORD = "partner-password"  # key: the partner app preset name
KINDS = frozenset({LEAF_PASSWORD, LEAF_TOKEN, PARTNER_PASSWORD})

NO_KEYCHAIN_WARNING = (
    "No system keychain is available, so passwords and tokens are kept in memory only until "
    "LeafDesk closes and must be entered again next time."
)

# keyrings.alt offers backends that write secrets to a file in the user's folders.
_FILE_BACKEND_MODULES = ("keyrings.alt",)


class SecretStore:
    """Get, set and delete LeafDesk's secrets in the OS keychain under the service "LeafDesk".

    Each secret is addressed by a kind (`leaf-password`, `leaf-token`, `partner-password`) and a
    key (the Leaf account name or the partner app preset name). `persistent` is False when the
    values live in memory for this run only, and `warning` is then a sentence for the window.
    """

    def __init__(
        self, *, service: str = SERVICE_NAME, backend: keyring.backend.KeyringBackend | None = None
    ) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._memory: dict[str, str] = {}
        # The backend is resolved on first use: importing keyring and finding its backend takes
        # about 90 ms, which the window's first paint from the offline cache should not wait for.
        self._given_backend = backend
        self._resolved_backend: keyring.backend.KeyringBackend | None = None
        self._resolve_lock = threading.Lock()
        self._persistent = True
        self._warning: str | None = None

    @property
    def _backend(self) -> keyring.backend.KeyringBackend:
        if self._resolved_backend is None:
            self._resolve_backend()
        return self._resolved_backend

    def _resolve_backend(self) -> None:
        with self._resolve_lock:
            if self._resolved_backend is not None:
                return
            if self._given_backend is not None:
                backend = self._given_backend
            else:
                import keyring

                backend = keyring.get_keyring()
            self._resolved_backend = backend
            # Checked under the lock, so no other thread uses an unusable backend in between.
            reason = _unusable_reason(backend)
            if reason is not None:
                self._fall_back_to_memory(reason)

    @property
    def persistent(self) -> bool:
        """False when secrets live in memory for this run only."""
        self._backend  # noqa: B018 - resolving the backend decides this
        return self._persistent

    @property
    def warning(self) -> str | None:
        """A sentence for the window when no keychain is usable, else None."""
        self._backend  # noqa: B018 - resolving the backend decides this
        return self._warning

    @property
    def backend_name(self) -> str:
        """The keyring backend resolved at start, as `module.Class`, even after a fallback."""
        backend_type = type(self._backend)
        return f"{backend_type.__module__}.{backend_type.__qualname__}"

    def get(self, kind: str, key: str) -> Secret | None:
        """Return the stored secret, or None when there is none."""
        name = _entry_name(kind, key)
        with self._lock:
            # Memory first, because it contains the values the keychain did not accept.
            value = self._memory.get(name)
            if value is None and self.persistent:
                try:
                    value = self._backend.get_password(self.service, name)
                except Exception as error:  # noqa: BLE001 - any backend failure means no keychain
                    self._fall_back_to_memory(f"reading {kind} failed: {error!r}")
            return Secret(value) if value is not None else None

    def set(self, kind: str, key: str, value: str) -> None:
        """Store a secret, replacing any earlier value of the same kind and key."""
        name = _entry_name(kind, key)
        with self._lock:
            if self.persistent:
                try:
                    self._backend.set_password(self.service, name, str(value))
                except Exception as error:  # noqa: BLE001 - backends raise many kinds of errors
                    if self._backend_reads(name):
                        self._keep_one_in_memory(kind, key, name, error)
                        self._memory[name] = str(value)
                        return
                    self._fall_back_to_memory(f"storing {kind} failed: {error!r}")
                else:
                    self._memory.pop(name, None)
                    return
            self._memory[name] = str(value)

    def delete(self, kind: str, key: str) -> None:
        """Remove a secret; removing one that is not there does nothing."""
        name = _entry_name(kind, key)
        with self._lock:
            self._memory.pop(name, None)
            if not self.persistent:
                return
            try:
                self._backend.delete_password(self.service, name)
            except _password_delete_error():
                # keyring raises this for an entry that does not exist, the usual case here.
                log.debug("No %s entry to delete for %r", kind, key)
            except Exception as error:  # noqa: BLE001 - as in get and set
                self._fall_back_to_memory(f"deleting {kind} failed: {error!r}")

    def rename(self, kind: str, old_key: str, new_key: str) -> None:
        """Move a secret to a new key, as when an account or preset is renamed; no-op if absent."""
        if old_key == new_key:
            return
        value = self.get(kind, old_key)
        if value is None:
            return
        self.set(kind, new_key, value)
        self.delete(kind, old_key)

    def _backend_reads(self, name: str) -> bool:
        try:
            self._backend.get_password(self.service, name)
        except Exception:  # noqa: BLE001 - any failure means the backend does not work
            return False
        return True

    def _keep_one_in_memory(self, kind: str, key: str, name: str, error: Exception) -> None:
        # The keychain works but rejected this value, as Windows Credential Manager rejects
        # values over 2,560 bytes (CRED_MAX_CREDENTIAL_BLOB_SIZE in wincred.h), which is about
        # 1,280 characters stored as UTF-16. The other secrets keep going to the keychain.
        log.warning("The keychain did not accept the %s for %r (%r); it is kept in memory for "
                    "this run", kind, key, error)
        try:
            self._backend.delete_password(self.service, name)
        except Exception as delete_error:  # noqa: BLE001 - an older value may not exist
            log.debug("No older %s for %r to remove: %r", kind, key, delete_error)

    def _fall_back_to_memory(self, reason: str) -> None:
        # Called at most once per store: backend resolution runs once, and the other callers
        # check `persistent` first while holding the store's lock.
        self._persistent = False
        self._warning = NO_KEYCHAIN_WARNING
        log.warning(
            "No usable keychain (%s, backend %s); secrets stay in memory for this run",
            reason,
            self.backend_name,
        )

    def __repr__(self) -> str:
        return f"SecretStore(backend={self.backend_name!r}, persistent={self.persistent})"


def _password_delete_error() -> type[Exception]:
    import keyring.errors

    return keyring.errors.PasswordDeleteError


def _entry_name(kind: str, key: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"Unknown secret kind {kind!r}; expected one of {sorted(KINDS)}")
    if not key:
        raise ValueError(f"The {kind} secret needs a non-empty key")
    return f"{kind}:{key}"


def _unusable_reason(backend: keyring.backend.KeyringBackend) -> str | None:
    from keyring.backends import fail, null

    if isinstance(backend, fail.Keyring):
        return "keyring found no recommended backend"
    if isinstance(backend, null.Keyring):
        return "keyring is set to its null backend"
    if type(backend).__module__.startswith(_FILE_BACKEND_MODULES):
        return "the configured keyring backend stores secrets in a file"
    return None
