"""API keys and tokens in the OS keyring; the only module that talks to ``keyring``.

A machine without a usable keyring (a headless Linux box, a locked keychain) is not an error: reads return
None and writes raise ``SecretStoreError`` with a message that says to use the environment instead.
"""

from __future__ import annotations

import logging

SERVICE = "gemini-codegen-desktop"
log = logging.getLogger(__name__)


class SecretStoreError(RuntimeError):
    pass


def get_secret(name: str) -> str | None:
    try:
        import keyring

        return keyring.get_password(SERVICE, name) or None
    except Exception as exc:  # noqa: BLE001 - any backend failure means "no stored secret"
        log.debug("keyring unavailable for reading %s: %s", name, type(exc).__name__)
        return None


def set_secret(name: str, value: str | None) -> None:
    try:
        import keyring

        if value:
            keyring.set_password(SERVICE, name, value)
        else:
            try:
                keyring.delete_password(SERVICE, name)
            except keyring.errors.PasswordDeleteError:
                pass
    except Exception as exc:  # noqa: BLE001
        raise SecretStoreError(
            f"could not store {name} in the OS keyring ({type(exc).__name__}); "
            "set it in the environment instead (GEMINI_API_KEY / CODEGEN_API_TOKEN)") from None

