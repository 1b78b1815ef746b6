"""The launch-time reference: a bare PySide6 window, built with the app's own spec options (bare-window.spec).

It reports its first frame the way the app does (``ui.app``: ``window shown ... (M ms CPU)`` once the first
paint has been flushed) and quits ``--exit-after-ms N`` later.  ``bundle_check.py
launch`` starts it and the app in turns and compares the two.
"""

import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow


class FirstFrame(QObject):
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, lambda: print(f"window shown ({time.process_time() * 1e3:.0f} ms CPU)", flush=True))
        return False


def main() -> int:
    exit_after_ms = int(sys.argv[sys.argv.index("--exit-after-ms") + 1]) if "--exit-after-ms" in sys.argv else None
    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("bare window")
    label = QLabel("A bare PySide6 window")
    window.setCentralWidget(label)
    window.resize(1120, 760)
    first = FirstFrame()
    label.installEventFilter(first)
    window.show()
    if exit_after_ms is not None:
        QTimer.singleShot(exit_after_ms, app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
