"""Close reasons are read for what they say; connection failures always say why."""

from __future__ import annotations

import ssl

import pytest

from desktop.live.errors import close_error, unreachable


@pytest.mark.parametrize("code, reason, kind, fatal", [
    (1008, "API key not valid. Please pass a valid API key.", "auth", True),
    (1007, "API key not valid. Please pass a valid API key.", "auth", True),
    (1008, "Permission denied on resource project x.", "auth", True),
    (1008, "models/gemini-9 is not found for API version v1beta, or is not supported for bidiGenerateContent.",
     "model", True),
    (1011, "You exceeded your current quota, please check your plan and billing details.", "rate_limited", True),
    (1011, "RESOURCE_EXHAUSTED", "rate_limited", True),
    (1008, "Request blocked by the safety policy.", "policy", False),
    (1011, "Internal error encountered.", "service", False),
    (1011, "Deadline expired before operation could complete.", "service", False),
    (1007, "Invalid JSON payload received.", "protocol", True),
    (1008, "", "policy", True),
    (1006, "", "network", False),
])
def test_close_reasons_are_classified_by_their_text(code, reason, kind, fatal):
    err = close_error(code, reason, "gemini-3.8-live")
    assert err.kind == kind and err.fatal is fatal and err.action
    assert err.turn_failed or not fatal


@pytest.mark.parametrize("exc, words", [
    (TimeoutError(), "no answer to the connection handshake within 3 s"),
    (ConnectionRefusedError(111, "Connection refused"), "Connection refused"),
    (OSError(), "OSError"),
])
def test_an_unreachable_server_always_says_why(exc, words):
    err = unreachable("127.0.0.1:9", exc, 3.0)
    assert words in err.message and err.message.endswith(".") and not err.fatal


def test_an_untrusted_certificate_says_how_to_trust_it():
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_message = "self-signed certificate"
    err = unreachable("127.0.0.1:9", exc, 3.0)
    assert "not trusted (self-signed certificate)" in err.message and "--ca-file" in err.action and err.fatal
