# PyInstaller's contrib hook for webrtcvad copies the metadata of a distribution named "webrtcvad",
# which aborts the build: the installed distribution is "webrtcvad-wheels".
from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("webrtcvad-wheels")
