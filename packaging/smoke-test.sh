#!/usr/bin/env bash
# Runs the built app like a user would: from the bundle folder, in a clean environment with no source tree
# on the path: --version, selftest (must pass), and the window started offscreen, shown, then closed.
set -euo pipefail
cd "$(dirname "$0")/.."
APP="$PWD/dist/gemini-codegen/gemini-codegen"
[ -x "$APP" ] || { echo "no built app at $APP: run make package"; exit 1; }
HOME_DIR=$(mktemp -d)
run_clean() {
  (cd "$HOME_DIR" && env -i PATH=/usr/bin:/bin HOME="$HOME_DIR" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
     PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring "$APP" "$@")
}
echo "== --version";  run_clean --version
echo "== selftest";   run_clean selftest
echo "== window";     run_clean --offline --exit-after-ms 1500
echo "smoke test passed"
