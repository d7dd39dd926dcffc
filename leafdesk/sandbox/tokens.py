"""The Leaf id_token the sandbox issues at sign-in: an HS512 JWT with `sub`, `iat` and `exp`.

The signing key is made fresh for each sandbox and never stored, so tokens do not survive a
restart. A client then gets a 401 and signs in again, as it must against Leaf.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

TOKEN_SECONDS = 24 * 3600
REMEMBER_ME_SECONDS = 30 * 24 * 3600
_HEADER = {"alg": "HS512", "typ": "JWT"}


def _encode_segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode_segment(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Issues and checks id_tokens against the sandbox clock."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(64)
        self._header = _encode_segment(json.dumps(_HEADER, separators=(",", ":")).encode())

    def issue(self, username: str, now: float, remember_me: bool) -> str:
        lifetime = REMEMBER_ME_SECONDS if remember_me else TOKEN_SECONDS
        issued_at = int(now)
        claims = {"sub": username, "auth": "ROLE_USER", "iat": issued_at,
                  "exp": issued_at + lifetime}
        payload = _encode_segment(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{self._header}.{payload}"
        return f"{signing_input}.{self._sign(signing_input)}"

    def verify(self, token: str, now: float) -> str | None:
        """Return the token's subject, or None when it is malformed, forged or expired."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signing_input = f"{parts[0]}.{parts[1]}"
        signature = parts[2].encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(self._sign(signing_input).encode("ascii"), signature):
            return None
        try:
            claims = json.loads(_decode_segment(parts[1]))
        except (ValueError, UnicodeDecodeError):
            return None
        expires = claims.get("exp") if isinstance(claims, dict) else None
        if not isinstance(expires, int) or now >= expires:
            return None
        subject = claims.get("sub")
        return subject if isinstance(subject, str) else None

    def _sign(self, signing_input: str) -> str:
        digest = hmac.new(self._key, signing_input.encode("utf-8", "surrogateescape"),
                          hashlib.sha512).digest()
        return _encode_segment(digest)
