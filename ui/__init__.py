"""The PySide6 desktop window: the only package that imports Qt."""

from ui import qt_guard

qt_guard.install()
