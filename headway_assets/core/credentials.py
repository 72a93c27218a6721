"""Connection credentials, encrypted at rest with a key from the environment.

Tokens and API keys live in `source_connections.credentials_encrypted` as a Fernet token
(AES-128-CBC + HMAC-SHA256). The key is HEADWAY_CREDENTIALS_KEY (a Fernet key: 32 bytes,
url-safe base64; make one with `headway credentials new-key`). For the embedded default a
key is generated once into `<data_dir>/credentials.key` (mode 0600). Decrypted values are
wrapped in `Credentials`, whose repr and str never show them, so a stray log line or an
exception message cannot leak a secret.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from headway_assets.core.settings import get_settings

KEY_ENV = "HEADWAY_CREDENTIALS_KEY"


class CredentialsError(Exception):
    """Credentials could not be decrypted or are missing a field (the message names no secret)."""


class Credentials(Mapping[str, Any]):
    """Decrypted credentials of one connection; never printed."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Credentials(<{len(self._values)} redacted field(s): {', '.join(sorted(self._values))}>)"

    __str__ = __repr__

    def require(self, key: str, *, connection: str) -> str:
        """The value of `key`, or a `CredentialsError` saying which field is missing."""
        value = self._values.get(key)
        if not value:
            raise CredentialsError(
                f"connection {connection} has no '{key}' in its credentials; reconnect it or set them "
                "with `headway connections set-credentials`"
            )
        return str(value)

    def secret_values(self) -> list[str]:
        """Every string value (for redaction of anything that might echo one)."""
        return [v for v in self._values.values() if isinstance(v, str) and v]


def credentials_key() -> bytes:
    """The Fernet key: HEADWAY_CREDENTIALS_KEY, or the embedded default's key file (created once)."""
    settings = get_settings().pipeline
    configured = settings.credentials_key.get_secret_value() if settings.credentials_key else ""
    if configured:
        return configured.encode()
    path = settings.data_dir / "credentials.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        return key
    return path.read_bytes().strip()


def _fernet() -> Fernet:
    try:
        return Fernet(credentials_key())
    except (ValueError, TypeError):
        raise CredentialsError(
            f"{KEY_ENV} is not a valid Fernet key (32 bytes, url-safe base64); "
            "generate one with `headway credentials new-key`"
        ) from None


def encrypt_credentials(values: Mapping[str, Any]) -> str:
    """Encrypt credentials for storage."""
    return _fernet().encrypt(json.dumps(dict(values), sort_keys=True).encode()).decode()


def decrypt_credentials(token: str | None, *, connection: str) -> Credentials:
    """Decrypt stored credentials; a wrong key or a damaged value is a clear error with no secret in it."""
    if not token:
        return Credentials({})
    try:
        return Credentials(json.loads(_fernet().decrypt(token.encode())))
    except InvalidToken:
        raise CredentialsError(
            f"credentials of connection {connection} cannot be decrypted with the configured {KEY_ENV}; "
            "the key changed or the value is damaged: restore the key or reconnect the source"
        ) from None


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every occurrence of a secret replaced by `[redacted]`."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text
