#!/usr/bin/env bash
# Runs the built app like a user would, from its folder in a clean environment with no source tree on the
# path, then measures it against the packaging goals (issue: size and first paint):
#   --version, selftest --json (the whole pipeline, TLS, every native library: must pass), the window
#   offscreen, the window on a real X server, the microphone through PulseAudio and a screen reader over
#   AT-SPI finding every control by name (packaging/test_built_app.py,
#   where Xvfb and PulseAudio are installed), the bundle's size by component (<= 150 MiB on Linux) and
#   launch -> first frame against a bare PySide6 window built with the same spec options (medians of 11
#   launches each, taken in turns, best of 3 attempts: <= 1.3x and <= 0.6 s).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
APP="$PWD/dist/gemini-codegen/gemini-codegen"
BARE="$PWD/build/bare-window/bare-window"
[ -x "$APP" ] || { echo "no built app at $APP: run make package"; exit 1; }
[ -x "$BARE" ] || { echo "no bare window at $BARE: run make package"; exit 1; }
HOME_DIR=$(mktemp -d)
run_clean() {
  (cd "$HOME_DIR" && env -i PATH=/usr/bin:/bin HOME="$HOME_DIR" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
     PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring "$APP" "$@")
}
echo "== --version";  run_clean --version
echo "== selftest --json"
run_clean selftest --json > "$HOME_DIR/selftest.json" || { cat "$HOME_DIR/selftest.json"; exit 1; }
"$PY" - "$HOME_DIR/selftest.json" <<'PYCHECK'
import json, sys
result = json.load(open(sys.argv[1]))
for check in result["checks"]:
    print(f"{'PASS' if check['ok'] else 'FAIL'}  {check['name']:<14} {check['detail']}")
build = result["build"]
assert build["packaged"], "selftest did not run from the bundle"
print(f"selftest {'passed' if result['ok'] else 'FAILED'} in {result['seconds']} s "
      f"(bundled: {', '.join(build['components']) or 'no optional native libraries'})")
sys.exit(0 if result["ok"] else 1)
PYCHECK
echo "== window (offscreen)"; run_clean --offline --exit-after-ms 1500
echo "== window on X11, the microphone through PulseAudio, a screen reader over AT-SPI"
GEMINI_CODEGEN_APP="$APP" "$PY" -m pytest -q -p no:cacheprovider -rs packaging/test_built_app.py
echo "== size"
"$PY" packaging/bundle_check.py size dist/gemini-codegen --max-mib 150
echo "== first paint"
"$PY" packaging/bundle_check.py launch "$APP" "$BARE" --runs 11 --attempts 3 --max-ratio 1.3 --max-median-s 0.6
echo "smoke test passed"
