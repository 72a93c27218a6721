"""Settings of the read API: the `api` section of Headway's one settings tree, and the JWT secret file.

`ApiSettings` lives in `headway_assets.core.settings` with every other section (the warehouse
itself, `HEADWAY_DATABASE_URL` and `HEADWAY_DATA_DIR`, is its `pipeline` section); this module
re-exports it under the names the API has always used. Secrets are `SecretStr`, so they never show
in a repr, a log line or an error.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from pydantic import SecretStr

from headway_assets.core.settings import MIN_HMAC_KEY_BYTES, ApiSettings, ConfigError, get_settings

__all__ = [
    "JWT_SECRET_FILE_NAME",
    "MIN_HMAC_KEY_BYTES",
    "ApiSettings",
    "ConfigError",
    "get_api_settings",
    "load_or_create_secret",
]

JWT_SECRET_FILE_NAME = "jwt-secret"


def load_or_create_secret(data_dir: Path) -> SecretStr:
    """The HS256 secret kept in `<data_dir>/jwt-secret` (mode 0600), created on first use.

    Several API workers may start at once: the secret is written to a private temporary file and
    linked into place, so every worker reads the same complete secret.
    """
    path = data_dir / JWT_SECRET_FILE_NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        descriptor, temporary = tempfile.mkstemp(dir=data_dir, prefix=".jwt-secret-")
        try:
            with os.fdopen(descriptor, "w") as handle:  # mkstemp creates the file with mode 0600
                handle.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):  # another worker won the race: use its secret
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # never leave a signing secret readable by others
    secret = path.read_text().strip()
    if len(secret.encode()) < MIN_HMAC_KEY_BYTES:
        raise ConfigError(f"{path} holds a secret shorter than {MIN_HMAC_KEY_BYTES} bytes; delete it to regenerate")
    return SecretStr(secret)


class _ApiSettingsAccessor:
    """`get_api_settings`: the `api` section of the process's settings tree."""

    def __call__(self) -> ApiSettings:
        """The process-wide API settings (tests build their own `ApiSettings`)."""
        return get_settings().api

    def cache_clear(self) -> None:
        """Forget the settings tree (the API's section with it); the next call reads the environment again."""
        get_settings.cache_clear()


get_api_settings = _ApiSettingsAccessor()
