#!/usr/bin/env bash
# The whole test suite, headless: Qt offscreen, a test keyring, a private config dir.
set -uo pipefail
PY=${1:-.venv/bin/python}
export QT_QPA_PLATFORM=offscreen
export PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring
export GEMINI_CODEGEN_CONFIG_DIR="$(mktemp -d)"
# screenshots of the window's states go to a scratch dir; `make screenshots` refreshes docs/screenshots
export GEMINI_CODEGEN_SCREENSHOTS="${GEMINI_CODEGEN_SCREENSHOTS:-$(mktemp -d)}"
unset GEMINI_API_KEY CODEGEN_API_TOKEN CODEGEN_ORG_ID GEMINI_LIVE_URL CODEGEN_API_URL GEMINI_MODEL
# tracing stays off unless a test turns it on (a developer's collector must not receive the suite's spans)
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
"$PY" -m pytest -q -p no:cacheprovider "${@:2}"
rc=$?
if [ $rc -eq 5 ]; then echo "no tests were collected: failing"; exit 1; fi
if [ $# -le 1 ]; then
  # The whole suite: then the real window on a real X server (tests/e2e), in a process of its own
  # (Qt picks one platform per process; the tests above run offscreen).
  echo "== the window on a real X server (tests/e2e)"
  "$PY" -m pytest -q -p no:cacheprovider tests/e2e
  e2e=$?
  if [ $e2e -eq 5 ]; then echo "no window tests were collected: failing"; exit 1; fi
  [ $rc -eq 0 ] && rc=$e2e
fi
exit $rc
