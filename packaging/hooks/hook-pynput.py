# pynput chooses its backend (Xorg, macOS, Windows) when imported, and PyInstaller's contrib hook finds the
# backends by importing pynput, which fails on a build machine without a display: the bundle then has no
# backend and the global hotkey reports itself unavailable.  The platform's backend is named here instead
# (python-xlib's extension modules come with PyInstaller's own Xlib hook).
import sys

_backend = {"darwin": "darwin", "win32": "win32"}.get(sys.platform, "xorg")
hiddenimports = [f"pynput.keyboard._{_backend}", f"pynput.mouse._{_backend}", f"pynput._util.{_backend}"]
hiddenimports += {"xorg": ["pynput._util.xorg_keysyms"], "darwin": ["pynput._util.darwin_vks"],
                  "win32": ["pynput._util.win32_vks"]}[_backend]
