#!/usr/bin/env bash
# Inside a private D-Bus session (dbus-run-session): the AT-SPI bus, the app with its accessibility bridge on
# (as with a screen reader running), and the reader.  Usage: atspi_session.sh APP_NAME OUT_JSON APP_COMMAND...
# (the app from source: PYTHON -m desktop --offline; the built app: its executable --offline).
# The app and the bus launcher are stopped by their own pids.
set -u
APP_NAME=$1 OUT=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
/usr/libexec/at-spi-bus-launcher --launch-immediately &
launcher=$!
QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1 QT_QPA_PLATFORM=xcb "$@" &
app=$!
/usr/bin/python3 "$HERE/atspi_reader.py" "$APP_NAME" 40 > "$OUT"
rc=$?
kill -TERM "$app" 2>/dev/null
wait "$app" 2>/dev/null
kill -TERM "$launcher" 2>/dev/null
wait "$launcher" 2>/dev/null
exit $rc
