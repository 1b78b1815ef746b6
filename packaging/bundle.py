"""What the packaged app contains and what it leaves out: the options both PyInstaller specs share.

``gemini-codegen.spec`` (the app) and ``bare-window.spec`` (a bare PySide6 window, the launch-time reference
of ``bundle_check.py launch``) are built with exactly these rules, so the two are compared like for like.

Each exclusion says why the app never loads what it leaves out.  ``make package`` proves them together:
``smoke-test.sh`` runs the built app the way a user does (``selftest`` through the whole pipeline and its
native libraries, the window offscreen and on a real X server, the microphone where PulseAudio exists), and
``tests/test_packaging.py`` checks that no module of the app imports an excluded module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

LINUX = sys.platform.startswith("linux")
MACOS = sys.platform == "darwin"
WINDOWS = sys.platform == "win32"

# Symbol tables are dead weight in a shipped binary: `strip` on Linux (libpython alone drops from 23 MB to
# 6 MB, webrtc_noise_gain from 27 MB to 1.5 MB).  macOS binaries are signed (stripping invalidates the
# signatures of the wheels' dylibs) and Windows DLLs carry no symbol tables, so only Linux strips.  `trim`
# strips each library itself rather than through PyInstaller's all-or-nothing option: a library rewritten
# by patchelf (wheels' vendored libraries, e.g. numpy's OpenBLAS) can come out of `strip` with a segment the
# loader refuses ("ELF load command address/offset not page-aligned"), and then ships unstripped.
STRIP = LINUX

# The Qt bindings the app uses; every other PySide6 module stays out (the list is read from the installed
# PySide6, so a new Qt module is excluded without editing this file).
QT_MODULES = ("QtCore", "QtGui", "QtWidgets")

# Python packages and modules that never run in the packaged app, and why.
EXCLUDED_MODULES: dict[str, str] = {
    "devtools": "bench, load test and report generation: a source checkout's developer tools",
    "PyInstaller": "the build tool itself",
    "pytest": "tests", "hypothesis": "tests", "_pytest": "tests",
    "google.genai": "the official SDK is only the bench's baseline",
    "matplotlib": "plots of the developer tools", "PIL": "plots of the developer tools",
    "IPython": "interactive shells", "tkinter": "another GUI toolkit",
    "pkg_resources": "webrtcvad imports it only on Python < 3.8; nothing else does",
    "setuptools": "packaging at install time", "distutils": "packaging at install time",
    "httpx._main": "httpx's own command line (it pulls in pygments and rich)",
    "pygments": "syntax colouring for httpx's command line", "rich": "terminal output for httpx's command line",
    "numpy.f2py": "Fortran bindings generator", "numpy.testing": "numpy's test helpers",
    "numpy.random": "the app draws no random numbers with numpy (only the simulations below do)",
    "audio.echo_path": "simulated echo paths: tests, the bench and `audio aec --simulate` from a source checkout",
    "unittest": "tests", "doctest": "tests", "pdb": "the debugger", "pydoc": "help() in a shell",
    "readline": "interactive prompts", "curses": "terminal UIs", "xmlrpc": "XML-RPC is not spoken",
    "lib2to3": "code conversion", "ensurepip": "pip bootstrap", "venv": "virtual environments",
    "idlelib": "the IDLE editor",
    "_pydecimal": "the pure-Python decimal (the C one is bundled)",
    "lzma": "xz archives (zipfile imports it only when present)", "bz2": "bzip2 archives (likewise)",
    "numpy._core._multiarray_tests": "numpy's own tests",
    "numpy.polynomial": "polynomials are not used",
    "numpy.matlib": "matrix helpers are not used",
    "multiprocessing": "no process pools (and no multiprocessing start-up hook on every launch)",
    "concurrent.futures.process": "no process pools",
    "livekit": "another echo canceller the bench compares ours with",
    "speexdsp_aec": "another echo canceller the bench compares ours with",
    "pyrnnoise": "the optional rnnoise denoiser (an extra, with PyAV and matplotlib behind it)",
    "brotli": "CodeGen responses are asked for as gzip or deflate only", "_brotli": "likewise",
}

# Tracing (desktop.otel: OpenTelemetry spans over OTLP/HTTP, on only when OTEL_EXPORTER_OTLP_* is set) sends
# traces and nothing else.  ``tests/packaging/test_bundle.py`` exports spans with all of these blocked.
EXCLUDED_MODULES.update({
    **{name: "OpenTelemetry metrics and logs: the app sends traces only (its metrics are Prometheus)" for name in (
        "opentelemetry.sdk.metrics", "opentelemetry.sdk._logs", "opentelemetry.exporter.otlp.proto.http.metric_exporter",
        "opentelemetry.exporter.otlp.proto.http._log_exporter", "opentelemetry.proto.metrics",
        "opentelemetry.proto.logs", "opentelemetry.proto.profiles", "opentelemetry.proto.collector.metrics",
        "opentelemetry.proto.collector.logs", "opentelemetry.proto.collector.profiles")},
    "charset_normalizer": "requests' guessing of a response's character set: the OTLP exporter never reads text",
    "google._upb": "protobuf's C accelerator (0.33 MiB): the few spans of a turn are encoded in pure Python",
    "urllib3.contrib.emscripten": "urllib3 in a browser's Python",
})

# The East Asian legacy codecs (the encodings modules and their C halves): the app runs in Python's UTF-8
# mode (``PYTHON_OPTIONS``), so a legacy locale never selects one, and no code asks for one by name.
CJK_CODECS = (
    "big5", "big5hkscs", "cp932", "cp949", "cp950", "euc_jis_2004", "euc_jisx0213", "euc_jp", "euc_kr", "gb18030",
    "gb2312", "gbk", "hz", "iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_2004", "iso2022_jp_3",
    "iso2022_jp_ext", "iso2022_kr", "johab", "shift_jis", "shift_jis_2004", "shift_jisx0213",
)
EXCLUDED_MODULES.update({f"encodings.{name}": "East Asian legacy codec (UTF-8 mode)" for name in CJK_CODECS})
EXCLUDED_MODULES.update({name: "East Asian legacy codecs (UTF-8 mode)" for name in (
    "_multibytecodec", "_codecs_cn", "_codecs_hk", "_codecs_iso2022", "_codecs_jp", "_codecs_kr", "_codecs_tw")})

# Python's own options in the bundle: UTF-8 mode (PEP 540; the default from Python 3.15), so files, pipes and
# the terminal are UTF-8 whatever the locale says.
PYTHON_OPTIONS = [("X utf8_mode=1", None, "OPTION")]

# Qt plugins the app loads, by plugin folder; every other plugin (and folder) stays out.  Which plugins Qt
# loads was read with QT_DEBUG_PLUGINS=1 from a full build: offscreen loads `qoffscreen` and `qsvgicon`;
# X11 loads `qxcb`, the compose input context and `qsvgicon`.  The stylesheet's combo-box arrow is an SVG
# image (`qsvg`).  Wayland sessions load `qwayland` with the xdg-shell and a decoration plugin; IBus users
# get their input method.  macOS and Windows keep their platform and native style plugins.
KEPT_QT_PLUGINS: dict[str, frozenset[str]] = {
    "platforms": frozenset({"qxcb", "qwayland", "qoffscreen", "qcocoa", "qwindows"}),
    "platforminputcontexts": frozenset({"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"}),
    "wayland-shell-integration": frozenset({"xdg-shell"}),
    "wayland-decoration-client": frozenset({"bradient", "adwaita"}),
    "iconengines": frozenset({"qsvgicon"}),
    "imageformats": frozenset({"qsvg"}),
    "styles": frozenset({"qmacstyle", "qmodernwindowsstyle", "qwindowsvistastyle"}),
}
# Left out on purpose (never loaded by this app): eglfs/linuxfb/vnc/minimal/vkkhrdisplay (embedded and
# test platforms), generic input plugins (evdev, tuio: only with eglfs/linuxfb), xcbglintegrations and
# wayland-graphics-integration-client (OpenGL surfaces: every widget here paints with the raster engine),
# platformthemes (gtk3 needs the system GTK our bundle cannot match; the built-in GNOME/KDE themes read
# the colour scheme themselves), other image formats (the app shows only SVG), tls/networkinformation
# (QtNetwork is not used).

# Linux: screen readers reach the app over AT-SPI, a bridge built into QtGui that speaks D-Bus through QtDBus
# (Qt 6 has no accessibility plugin to keep).  QtGui links QtDBus, so pruning keeps it; the build stops if that
# ever changes, and packaging/test_built_app.py reads the built app's controls over AT-SPI.
SCREEN_READER_LIBRARIES = ("libQt6DBus.so.6",) if LINUX else ()

# Libraries loaded with dlopen() rather than linked (the bootloader loads Python; sounddevice loads PortAudio
# with ctypes): pruning must keep them.
DLOPENED = ("libpython*", "python3*.dll", "Python", "libportaudio*")

# Linux: the desktop's own libraries come from the system, never from the bundle.  They are on every desktop
# distribution (the AppImage project's exclude list, which PyInstaller already applies to libxcb, libGL and
# Wayland), and several must match the running system: ALSA and JACK load the system's sound-server plugins
# (a bundled libasound next to the system's PipeWire/PulseAudio plugin is how a microphone goes silent),
# graphics drivers loaded into the process need the system's libstdc++, fontconfig reads the system's font
# configuration, libdbus talks to the system's bus.  Qt's X11 plugin needs the X server's client libraries
# (xcb and its extensions, xkbcommon), which the window already requires from the system: without them
# `ui.app.display_problem` names the packages to install.  What only these libraries link against goes too.
SYSTEM_LIBRARIES = (
    "libxcb*.so.*", "libX11-xcb.so.*", "libxkbcommon*.so.*",
    "libasound.so.*", "libjack.so.*", "libstdc++.so.*", "libgcc_s.so.*", "libX11.so.*", "libfontconfig.so.*",
    "libfreetype.so.*", "libharfbuzz.so.*", "libfribidi.so.*", "libexpat.so.*", "libglib-2.0.so.*",
    "libgobject-2.0.so.*", "libgio-2.0.so.*", "libz.so.*", "libdbus-1.so.*", "libuuid.so.*", "libgpg-error.so.*",
    "libcom_err.so.*", "libusb-1.0.so.*",
    # OpenSSL 3 for Python's ssl and hashlib: every distribution whose glibc can run this build (the bundle
    # needs the build machine's glibc or newer) ships libssl3, kept patched by the distribution and
    # configured by its crypto policy.  (cryptography carries its own OpenSSL inside its module.)
    "libssl.so.3", "libcrypto.so.3",
    # Likewise SQLite (with FTS5, which the history search uses, in every distribution's build) and zstd:
    # base libraries of the same distributions (Python, NSS, rpm and systemd link them), patched by them.
    "libsqlite3.so.0", "libzstd.so.1",
)

# PyInstaller runtime hooks that run before the app on every launch, left out because the app does not need
# them: pyi_rth_pkgutil teaches pkgutil.iter_modules() to list modules inside the PYZ archive, and nothing in
# the app lists modules (backports' pkgutil.extend_path, the only pkgutil use, works without it).  It costs
# importing pkgutil before the first frame.
DROPPED_RUNTIME_HOOKS = frozenset({"pyi_rth_pkgutil"})

# Files inside collected packages that are sources, build files or type stubs, never read at run time.
DEV_ONLY_SUFFIXES = (".pyi", ".cpp", ".c", ".h", ".pxd", ".pyx", "CMakeLists.txt", "py.typed", "render.sh")


def excluded_modules(pyside_dir: Path | None = None) -> list[str]:
    """``EXCLUDED_MODULES`` plus every PySide6 module but ``QT_MODULES`` (read from the installed PySide6)."""
    out = list(EXCLUDED_MODULES)
    if pyside_dir is None:
        import PySide6

        pyside_dir = Path(PySide6.__file__).parent
    names = {p.name.split(".")[0] for p in pyside_dir.glob("Qt*.pyi")} - set(QT_MODULES)
    return out + [f"PySide6.{n}" for n in sorted(names)]


def plugin_kept(dest: str) -> bool | None:
    """For a Qt plugin's bundle path: keep it?  None when ``dest`` is not a Qt plugin."""
    parts = PurePosixPath(dest.replace("\\", "/")).parts
    if "PySide6" not in parts or "plugins" not in parts:
        return None
    i = parts.index("plugins")
    if len(parts) < i + 3:
        return None
    folder, name = parts[i + 1], parts[-1]
    stem = name.split(".")[0]
    stem = stem[3:] if stem.startswith("lib") else stem
    return stem in KEPT_QT_PLUGINS.get(folder, frozenset())


def data_kept(dest: str) -> bool:
    """Qt's translations (the app is English only and installs no QTranslator) and development files stay out."""
    path = dest.replace("\\", "/")
    if "PySide6/" in path and "/translations/" in path:
        return False
    return not path.endswith(DEV_ONLY_SUFFIXES)


def system_library(dest: str) -> bool:
    name = PurePosixPath(dest.replace("\\", "/")).name
    return LINUX and "/" not in dest and any(fnmatch(name, p) for p in SYSTEM_LIBRARIES)


def prunable(dest: str, kind: str) -> bool:
    """A shared library that is in the bundle only because something links against it: the system libraries
    PyInstaller copies to the top level and Qt's own libraries (never a Python extension module)."""
    path = dest.replace("\\", "/")
    name = PurePosixPath(path).name
    return (kind == "BINARY" and ("/" not in path or path.startswith("PySide6/Qt/lib/"))
            and not any(fnmatch(name, p) for p in DLOPENED))


def library_name(path: str) -> str:
    """A library's file name as the loader matches it (Windows ignores case: VCRUNTIME140.dll is vcruntime140.dll)."""
    name = PurePosixPath(path.replace("\\", "/")).name
    return name.lower() if WINDOWS else name


def reachable(binaries: Iterable[tuple[str, str, str]], imports: Callable[[str], Iterable[str]]) -> set[str]:
    """Names (``library_name``) of the libraries linked, transitively, from every binary not ``prunable``."""
    by_name: dict[str, list[str]] = {}
    roots: list[str] = []
    for dest, src, kind in binaries:
        by_name.setdefault(library_name(dest), []).append(src)
        if not prunable(dest, kind):
            roots.append(src)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        for name in map(library_name, imports(todo.pop())):
            if name not in seen and name in by_name:
                seen.add(name)
                todo.extend(by_name[name])
    return seen


def linked_names(src: str) -> list[str]:
    """The libraries ``src`` links against directly (ELF: its DT_NEEDED entries, read with binutils' readelf,
    as ``ldd`` would list the whole closure; Mach-O and PE: PyInstaller's reader)."""
    if LINUX:
        import re
        import subprocess

        dynamic = subprocess.run(["readelf", "-d", src], capture_output=True, text=True, check=True).stdout
        return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    from PyInstaller.depend import bindepend

    return [name for name, _path in bindepend.get_imports(src)]


def trim(analysis, workdir: Path, log: Callable[[str], None] = print) -> None:
    """Drop unused Qt plugins, translations and development files, then every library nothing keeps; on Linux
    swap Qt's ICU data for the root-and-English subset (``icu.py``)."""
    binaries = [b for b in analysis.binaries if plugin_kept(b[0]) is not False and not system_library(b[0])]
    if LINUX:
        binaries = [_smaller_icu(b, workdir / "icu", log) for b in binaries]
    if STRIP:
        binaries = [_stripped(b, workdir / "stripped", log) for b in binaries]
    needed = reachable(binaries, linked_names)
    kept = [b for b in binaries if not prunable(b[0], b[2]) or library_name(b[0]) in needed]
    dropped = sorted({b[0] for b in analysis.binaries} - {b[0] for b in kept})
    lost = sorted(set(SCREEN_READER_LIBRARIES) - {library_name(b[0]) for b in kept})
    if lost:
        raise SystemExit(f"bundle: {', '.join(lost)} would be left out: screen readers could not read the app")
    # PyInstaller's links to libraries elsewhere in the bundle (``libQt6Core.so.6`` -> ``PySide6/Qt/lib/...``)
    # go when their target goes
    gone = set(dropped)
    datas = [d for d in analysis.datas if data_kept(d[0]) and not (d[2] == "SYMLINK" and d[1] in gone)]
    log(f"bundle: left out {len(dropped)} binaries and {len(analysis.datas) - len(datas)} data files")
    for dest in dropped:
        log(f"  - {dest}")
    analysis.binaries[:] = kept
    analysis.datas[:] = datas
    analysis.scripts[:] = [s for s in analysis.scripts if s[0] not in DROPPED_RUNTIME_HOOKS]


def _smaller_icu(entry: tuple[str, str, str], workdir: Path, log: Callable[[str], None]) -> tuple[str, str, str]:
    dest, src, kind = entry
    if not fnmatch(PurePosixPath(dest).name, "libicudata.so.*"):
        return entry
    import icu

    out = icu.build(Path(src), workdir)
    log(f"bundle: ICU data {Path(src).stat().st_size / 1e6:.1f} MB -> {out.stat().st_size / 1e6:.1f} MB ({dest})")
    return dest, str(out), kind


def loadable_segments(path: Path) -> bool:
    """Every PT_LOAD segment maps at an offset congruent to its address (what the loader checks)."""
    import re
    import subprocess

    headers = subprocess.run(["readelf", "-l", "-W", str(path)], capture_output=True, text=True, check=True).stdout
    for offset, vaddr, align in re.findall(r"^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+\S+\s+\S+\s+\S+\s+.*?"
                                           r"(0x[0-9a-f]+)\s*$", headers, re.MULTILINE):
        if (int(vaddr, 16) - int(offset, 16)) % max(int(align, 16), 4096):
            return False
    return True


def _stripped(entry: tuple[str, str, str], workdir: Path, log: Callable[[str], None]) -> tuple[str, str, str]:
    import shutil
    import subprocess

    dest, src, kind = entry
    out = workdir / dest
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, out)
    if subprocess.run(["strip", str(out)], capture_output=True).returncode != 0:
        return entry  # not something strip understands (a script, a data file PyInstaller calls binary)
    if not loadable_segments(out):
        log(f"bundle: {dest} is not stripped (strip would break its segment layout)")
        return entry
    return dest, str(out), kind
