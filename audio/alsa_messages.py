"""ALSA's own error messages (Linux) are counted, not printed into the user's terminal.

libasound prints through its error handler straight to stderr: "ALSA lib pcm.c:8570:(snd_pcm_recover)
underrun occurred" whenever the output device ran dry, and a screenful of "unknown PCM" lines while
PortAudio probes the configured devices at start.  ``route_away_from_terminal()`` installs a handler
(``snd_lib_error_set_handler`` through ctypes) that only counts each message by the function that raised it
and its format ("snd_pcm_recover: %s occurred"), so nothing is printed; what the player cares about it
counts itself from PortAudio's callback flags (``SpeakerPlayer.device_underruns``).  Call it before
PortAudio initialises (``audio.devices.load_sounddevice`` does).  The handler runs on whichever thread hit
the error (PortAudio's audio thread on an underrun): it counts (under the GIL) and does nothing else.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections import Counter

# void (*)(const char *file, int line, const char *function, int err, const char *fmt, ...): the variadic
# arguments are not read (the format says what happened)
_HANDLER_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                 ctypes.c_char_p)
messages: Counter[str] = Counter()  # "function: format" -> times
_handler: object | None = None  # kept alive for as long as libasound may call it


def _count(_file: bytes | None, _line: int, function: bytes | None, _err: int, fmt: bytes | None) -> None:
    messages[f"{(function or b'').decode(errors='replace')}: {(fmt or b'').decode(errors='replace')}"] += 1


def route_away_from_terminal() -> bool:
    """Install the counting handler once (Linux with libasound); True when it is in place."""
    global _handler
    if _handler is not None:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
    except OSError:  # no ALSA: nothing would print either
        return False
    handler = _HANDLER_TYPE(_count)
    lib.snd_lib_error_set_handler(handler)
    _handler = handler
    return True
