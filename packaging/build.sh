#!/usr/bin/env bash
# Builds the one-folder app with PyInstaller into dist/gemini-codegen and prints its size.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
rm -rf build/pyinstaller dist/gemini-codegen
"$PY" -m PyInstaller packaging/gemini-codegen.spec --noconfirm --log-level WARN \
  --workpath build/pyinstaller --distpath dist
echo "built dist/gemini-codegen: $(du -sh dist/gemini-codegen | cut -f1)"
