#!/usr/bin/env bash
# System packages the app and its tests need: PortAudio (sounddevice), PulseAudio + espeak-ng + sox (the
# virtual microphone the tests speak into), the X/EGL libraries Qt loads, and for the real-window tests
# (tests/e2e) an X server with key auto-repeat (xvfb, x11-xserver-utils: xset), XTEST key and mouse events
# (xdotool), a window manager with a system tray (fluxbox), xprop (x11-utils) and screenshots (imagemagick);
# for `make package`, binutils (strip, readelf) and a C compiler (the bundle's smaller ICU data library);
# for the screen-reader test (tests/e2e/test_accessibility.py), a D-Bus session and the AT-SPI bus with the
# system Python's pyatspi as the reader; for `make lint`, shellcheck (actionlint checks the workflows' shell
# steps with it).
# Installs them on Debian/Ubuntu when run as root; elsewhere prints the command to run.  Does nothing when
# all are present.
set -euo pipefail
DEB_PACKAGES=(libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins espeak-ng sox
              libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
              libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 xvfb
              xdotool x11-xserver-utils x11-utils fluxbox imagemagick binutils gcc
              dbus at-spi2-core python3-pyatspi shellcheck)
case "$(uname -s)" in
  Darwin) command -v espeak-ng >/dev/null || echo "note: for the audio tests run: brew install espeak-ng sox"; exit 0 ;;
  MINGW*|MSYS*|CYGWIN*) exit 0 ;;
esac
if ! command -v dpkg-query >/dev/null; then
  echo "note: install PortAudio, PulseAudio, espeak-ng and sox with your package manager for the audio tests"
  exit 0
fi
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages. Run:  sudo apt-get install -y ${missing[*]}"
  exit 0
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
