"""The update notice: "Version X is available", its notes as text and a link to the release page.

``UpdateCheck.start`` runs ``desktop.updates.check`` on a short-lived thread of its own (one GET, a few
seconds at most), so neither the Qt thread nor the session's engine loop waits on a release feed; the
outcome comes back through a queued signal.  The notice is a banner in the window's message area: not
modal, reachable with Tab (its link button and Dismiss), named for screen readers; dismissing it remembers
the version, which is then not offered again.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from PySide6.QtCore import QObject, Qt, Signal

from desktop import __version__, updates
from desktop.config import Settings
from ui.banner import Message, MessageArea
from ui.links import open_target, target

log = logging.getLogger(__name__)
KEY = "update"


class UpdateCheck(QObject):
    """One check at a time; ``finished`` (on the Qt thread) with its ``updates.Outcome``."""

    finished = Signal(object)
    _done = Signal(object)

    def __init__(self, messages: MessageArea, parent: QObject | None = None):
        super().__init__(parent)
        self.messages = messages
        self.outcome: updates.Outcome | None = None  # the last check's
        self.release: updates.Release | None = None  # the one on show
        self._thread: threading.Thread | None = None
        self._done.connect(self._show, Qt.ConnectionType.QueuedConnection)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, settings: Settings, *, demo: bool) -> bool:
        """Check in the background (False when one is already under way)."""
        if self.running:
            return False
        self._thread = threading.Thread(target=self._run, args=(settings, demo), name="update-check", daemon=True)
        self._thread.start()
        return True

    def _run(self, settings: Settings, demo: bool) -> None:
        try:
            outcome = asyncio.run(updates.check(settings, demo=demo))
        except Exception as exc:  # noqa: BLE001 - a background nicety never takes the app down
            log.warning("update check failed: %s", type(exc).__name__)
            outcome = updates.Outcome(None, "update check failed", failed=True)
        try:
            self._done.emit(outcome)
        except RuntimeError:  # the window closed meanwhile
            pass

    def _show(self, outcome: updates.Outcome) -> None:
        self.outcome = outcome
        if outcome.release is not None:
            self.show(outcome.release)
        self.finished.emit(outcome)

    def show(self, release: updates.Release) -> Message:
        self.release = release
        link = target(release.url) if release.url else None
        title = f"Version {release.version} is available"
        msg = Message(KEY, "info", title, release.notes or "A newer release is out.",
                      f"You have {__version__}. Nothing is downloaded or installed by the app.",
                      "Release page" if link is not None else "", "open-update")
        msg.setAccessibleName(f"Update: version {release.version} is available")
        msg.dismissed.connect(lambda v=release.version: self._dismissed(v))
        return self.messages.add(msg)

    def _dismissed(self, version: str) -> None:
        self.release = None
        updates.dismiss(version)

    def open_page(self) -> bool:
        """The release page in the browser (only an https link ever gets a button)."""
        link = target(self.release.url) if self.release is not None and self.release.url else None
        return link is not None and open_target(link)

    def hide(self) -> None:
        """Gone without remembering anything (the setting was turned off)."""
        self.release = None
        self.messages.clear(KEY)
