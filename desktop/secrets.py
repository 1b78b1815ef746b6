"""API keys and tokens in the OS keyring; the only module that talks to ``keyring``.

A machine without a usable keyring (a headless Linux box, a tiling window manager without a Secret Service,
WSL, a locked keychain) is not an error: reads return None and writes raise ``SecretStoreError`` with a
message that says what to do instead; ``keyring_problem()`` tells beforehand (the Settings dialog then offers
keys for this session only, kept in memory).
"""

from __future__ import annotations

import logging

SERVICE = "gemini-codegen-desktop"
log = logging.getLogger(__name__)


class SecretStoreError(RuntimeError):
    pass


def keyring_problem() -> str | None:
    """Why keys cannot be kept in the OS keyring here, in words for the person; None when they can.  The
    ``fail`` backend is what keyring chooses when it finds no Secret Service; the ``null`` backend accepts
    every write and keeps nothing."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null

        ring = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - a broken keyring module is the same as none
        log.debug("keyring unavailable: %s", type(exc).__name__)
        return "the keyring cannot be used on this system"
    if isinstance(ring, fail.Keyring) or (isinstance(ring, chainer.ChainerBackend) and not ring.backends):
        return "no system keyring (Secret Service) is running"
    if isinstance(ring, null.Keyring):
        return "the keyring is turned off (null keyring backend)"
    return None


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
            "tick \"Use for this session only\", or set it in the environment (GEMINI_API_KEY / "
            "CODEGEN_API_TOKEN)") from None

