#!/usr/bin/env bash
# Builds the one-folder app with PyInstaller into dist/gemini-codegen, and the bare PySide6 window the smoke
# test compares its launch time with (same spec options, packaging/bundle.py) into build/bare-window.
# The release workflow (.github/workflows/release.yml) runs this same script on Linux, macOS and Windows.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
rm -rf build/pyinstaller dist/gemini-codegen "dist/Gemini CodeGen.app" build/bare-window
PYTHONNODEBUGRANGES=1 "$PY" -m PyInstaller packaging/gemini-codegen.spec --noconfirm --log-level WARN \
  --workpath build/pyinstaller --distpath dist
PYTHONNODEBUGRANGES=1 "$PY" -m PyInstaller packaging/bare-window.spec --noconfirm --log-level WARN \
  --workpath build/pyinstaller-bare --distpath build
echo "built dist/gemini-codegen: $(du -sh dist/gemini-codegen | cut -f1)"
