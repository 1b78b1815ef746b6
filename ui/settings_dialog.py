"""Settings: keys (to the OS keyring, or for this session only), endpoints, model and voice, the languages the
user speaks, audio devices with a microphone test, noise suppression, VAD, push-to-talk key and mode, quality
profile, confirmation before runs, spoken run updates, the code folders whose names Gemini should hear right, and
the check for a new version of the app.

``SettingsDialog.apply()`` writes secrets through ``desktop.secrets`` and everything else through
``desktop.config.save_settings`` (which never writes a secret), and returns the new ``Settings``.  Without a
usable keyring (or when the person ticks it) keys are used for this session only: kept in the returned
``Settings`` in memory, never written anywhere.  A field set by an environment variable is read-only and
says which variable overrides it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop import secrets
from desktop.config import (
    CHOICES,
    ConfigError,
    Settings,
    check_settings,
    env_overrides,
    load_settings,
    save_settings,
)
from ui import hotkey
from ui.level_meter import LevelMeter
from ui.plain_text import PlainLabel, tooltip

log = logging.getLogger(__name__)
VOICES = ("Kore", "Puck", "Charon", "Fenrir", "Aoede", "Leda", "Orus", "Zephyr")
DEFAULT_DEVICE = "System default"
MIC_TEST_S = 5.0
SUPPRESSION_LEVELS = ("off", "light", "moderate", "strong", "strongest")
VOICE_DETECTION = ("lenient: keeps every word", "relaxed", "balanced", "strict: ignores the most noise")
# the field each setting is edited in, as the dialog names it (a refused value is named this way)
FIELD_LABELS = {"live_url": "Live endpoint", "model": "Model", "voice": "Voice", "codegen_org_id": "Organisation id",
                "codegen_url": "CodeGen API URL", "input_device": "Microphone", "output_device": "Speaker",
                "denoise": "Noise suppression", "denoise_level": "Suppression level", "vad_mode": "Voice detection",
                "ptt_key": "Push-to-talk key", "ptt_mode": "Push-to-talk mode", "quality_profile": "Quality profile",
                "spoken_languages": "You speak", "code_folders": "Code folders"}


class ScrollingPage(QScrollArea):
    """A settings page that scrolls up and down when the screen is too short for it (200 % on a laptop), and
    otherwise asks for its whole size, as the page itself would; it never scrolls sideways."""

    MIN_HEIGHT = 120

    def __init__(self, page: QWidget):
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes to the fields (each scrolled into view)
        self.setWidget(page)

    def _bar(self) -> int:
        return self.verticalScrollBar().sizeHint().width()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        page = self.widget()
        return page.sizeHint() + QSize(self._bar(), 0) if page is not None else super().sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        page = self.widget()
        if page is None:
            return super().minimumSizeHint()
        return QSize(page.minimumSizeHint().width() + self._bar(), min(self.MIN_HEIGHT, page.minimumSizeHint().height()))


class KeyCaptureButton(QPushButton):
    """Click, then press a key: the key's name becomes the value."""

    changed = Signal(str)

    def __init__(self, key_name: str, parent: QWidget | None = None):
        super().__init__(key_name, parent)
        self.key_name = key_name
        self.capturing = False
        self.clicked.connect(self._capture)

    def _capture(self) -> None:
        self.capturing = True
        self.setText("Press a key…")
        self.setFocus()

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if not self.capturing:
            super().keyPressEvent(e)
            return
        name = QKeySequence(e.key()).toString() or self.key_name
        self.capturing = False
        self.key_name = name
        self.setText(name)
        self.changed.emit(name)


class MicTest(QWidget):
    """'Test microphone': opens the chosen input for a few seconds and shows its level."""

    def __init__(self, device: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.device = device
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.button = QPushButton("Test microphone")
        self.meter = LevelMeter()
        self.status = PlainLabel("")  # device errors carry device names and library text
        self.status.setProperty("muted", True)
        row.addWidget(self.button)
        row.addWidget(self.meter, 1)
        row.addWidget(self.status)
        self.button.clicked.connect(self.start)
        self._stream: Any = None
        self._level = (-96.0, -96.0)
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._poll)
        self._stop_timer = QTimer(self)
        self._stop_timer.setSingleShot(True)
        self._stop_timer.timeout.connect(self.stop)

    def start(self) -> None:
        from audio.devices import AudioUnavailable, find_device, load_sounddevice
        from audio.level import frame_level

        self.stop()
        try:
            sd = load_sounddevice()
            dev = find_device(self.device(), "input", sd)

            def callback(indata: Any, _frames: int, _time: Any, _status: Any) -> None:
                self._level = frame_level(bytes(indata))  # PortAudio thread: compute only, no Qt

            self._stream = sd.RawInputStream(device=dev.index, channels=1, samplerate=16000, dtype="int16",
                                             blocksize=160, callback=callback)
            self._stream.start()
        except AudioUnavailable as exc:
            self.status.setText(str(exc).split(":")[0])
            self.status.setToolTip(tooltip(str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - device errors are shown, not raised
            self._stream = None
            self.status.setText(f"Could not open: {type(exc).__name__}")
            self.status.setToolTip(tooltip(str(exc)))
            return
        self.status.setText("Speak now…")
        self._timer.start()
        self._stop_timer.start(int(MIC_TEST_S * 1000))

    def _poll(self) -> None:
        rms, peak = self._level
        self.meter.set_level(rms, peak, rms > -45)
        self.status.setText("Hearing you ✓" if rms > -45 else "Speak now…")

    def stop(self) -> None:
        self._timer.stop()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001
                log.debug("mic test stream close failed", exc_info=True)


def _device_combo(kind: str, current: str | None) -> QComboBox:
    """The devices of ``kind`` by the names a person knows (``device_label``; the sound server's description of
    the microphone), each keeping PortAudio's name as its value; first the system default (value None)."""
    box = QComboBox()
    try:
        from audio.devices import SERVER_DEFAULTS, device_label, list_devices, server_sources

        devices = [d for d in list_devices() if (d.inputs if kind == "input" else d.outputs) > 0]
        sources = server_sources() if kind == "input" else ([], "")  # (the server's sources are microphones)
    except Exception:  # noqa: BLE001 - no audio system: only the default entry
        devices, sources = [], ([], "")
    default = next((d for d in devices if d.name in SERVER_DEFAULTS), None)
    box.addItem(device_label(default, sources) if default is not None else DEFAULT_DEVICE, None)
    for d in devices:
        if d.name not in SERVER_DEFAULTS or d.name == current:
            box.addItem(device_label(d, sources), d.name)
    if current and box.findData(current) < 0:
        box.addItem(current, current)  # chosen before, not here now: kept, under the name it was saved with
    box.setCurrentIndex(max(0, box.findData(current)) if current else 0)
    return box


def _choice(labels: tuple[str, ...], current: int) -> QComboBox:
    """A combo box over the numbers 0..n-1, each shown with what it means."""
    box = QComboBox()
    for value, label in enumerate(labels):
        box.addItem(f"{value} · {label}", value)
    box.setCurrentIndex(max(0, min(len(labels) - 1, current)))
    return box


def _combo(values: tuple[str, ...] | list[str], current: str | None) -> QComboBox:
    box = QComboBox()
    box.addItems(list(values))
    if current and box.findText(current) < 0:
        box.addItem(current)
    if current:
        box.setCurrentText(current)
    return box


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None, *, tab: str = "accounts"):
        super().__init__(parent)
        self.settings = settings
        self.result_settings: Settings | None = None
        self.setWindowTitle("Settings")
        self.resize(620, 560)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 18, 20, 18)
        outer.setSpacing(12)
        title = QLabel("Settings")
        title.setObjectName("AppTitle")
        outer.addWidget(title)
        self.tabs = QTabWidget()
        outer.addWidget(self.tabs, 1)
        self.tab_index: dict[str, int] = {}
        self._accounts(settings)
        self._audio(settings)
        self._ptt(settings)
        self._behaviour(settings)
        self.error = PlainLabel("")  # quotes what was typed into a field
        self.error.setObjectName("SettingsError")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        outer.addWidget(self.error)
        self._mark_env_overrides()
        buttons = QHBoxLayout()
        where = QLabel("Keys are kept in the system keyring, never in the settings file." if not self.keyring_problem
                       else "No keyring here: keys are kept in memory for this session only.")
        where.setProperty("muted", True)
        buttons.addWidget(where, 1)
        self.cancel = QPushButton("Cancel")
        self.save = QPushButton("Save")
        self.save.setProperty("primary", True)
        self.save.setDefault(True)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.save)
        outer.addLayout(buttons)
        self.cancel.clicked.connect(self.reject)
        self.save.clicked.connect(self._save_clicked)
        self.show_tab(tab)

    def show_tab(self, tab: str) -> None:
        self.tabs.setCurrentIndex(self.tab_index.get(tab, 0))

    def _page(self, key: str, label: str) -> QFormLayout:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(18, 18, 18, 18)
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(12)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.tab_index[key] = self.tabs.addTab(ScrollingPage(page), label)
        return form

    def _section(self, form: QFormLayout, text: str) -> None:
        head = QLabel(text.upper())
        head.setObjectName("PanelTitle")
        form.addRow(head)

    def _accounts(self, s: Settings) -> None:
        form = self._page("accounts", "Accounts")
        self._section(form, "Gemini")
        self.gemini_key = QLineEdit(s.gemini_api_key or "")
        self.gemini_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.gemini_key.setPlaceholderText("AIza…  (from Google AI Studio)")
        form.addRow("API key", self.gemini_key)
        self.live_url = QLineEdit(s.live_url)
        form.addRow("Live endpoint", self.live_url)
        self.model = QLineEdit(s.model)
        form.addRow("Model", self.model)
        self.voice = _combo(VOICES, s.voice)
        form.addRow("Voice", self.voice)
        self.spoken_languages = QLineEdit(s.spoken_languages)
        self.spoken_languages.setPlaceholderText("empty: Gemini detects it")
        self.spoken_languages.setToolTip("The languages you speak, as codes separated by commas, e.g. en-US, de-DE "
                                         "(applies from the next session)")
        form.addRow("You speak", self.spoken_languages)
        self._section(form, "CodeGen")
        self.codegen_token = QLineEdit(s.codegen_token or "")
        self.codegen_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.codegen_token.setPlaceholderText("API token")
        form.addRow("API token", self.codegen_token)
        self.codegen_org = QLineEdit("" if s.codegen_org_id is None else str(s.codegen_org_id))
        self.codegen_org.setPlaceholderText("numeric organisation id")
        form.addRow("Organisation id", self.codegen_org)
        self.codegen_url = QLineEdit(s.codegen_url)
        form.addRow("API URL", self.codegen_url)
        self._section(form, "Keeping the keys")
        self.keyring_problem = secrets.keyring_problem()
        self.session_only = QCheckBox("Use for this session only (kept in memory, never saved)")
        self.session_only.setChecked(self.keyring_problem is not None)
        self.session_only.setEnabled(self.keyring_problem is None)  # without a keyring it is the only way
        self.session_only.setAccessibleDescription("The API key and token are used until the app closes and "
                                                   "are not written to the keyring or any file")
        form.addRow("Keys", self.session_only)
        self.keyring_note = PlainLabel(
            f"Keys cannot be saved here: {self.keyring_problem}. They are used until the app closes; to keep "
            "them, set GEMINI_API_KEY and CODEGEN_API_TOKEN in the environment." if self.keyring_problem else
            "Saved keys go to the system keyring. Session-only keys are forgotten when the app closes.")
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setProperty("muted", True)
        form.addRow("", self.keyring_note)

    def _audio(self, s: Settings) -> None:
        form = self._page("audio", "Audio")
        self.input_device = _device_combo("input", s.input_device)
        form.addRow("Microphone", self.input_device)
        self.mic_test = MicTest(lambda: self._device(self.input_device))
        form.addRow("", self.mic_test)
        self.output_device = _device_combo("output", s.output_device)
        form.addRow("Speaker", self.output_device)
        self.denoise = _combo(CHOICES["denoise"], s.denoise)
        form.addRow("Noise suppression", self.denoise)
        self.denoise_level = _choice(SUPPRESSION_LEVELS, s.denoise_level)
        self.denoise_level.setToolTip("How much background noise is removed (more can dull quiet voices)")
        form.addRow("Suppression level", self.denoise_level)
        self.vad_mode = _choice(VOICE_DETECTION, s.vad_mode)
        self.vad_mode.setToolTip("When speech counts as started and ended: lenient keeps every word, strict "
                                 "ignores more noise")
        form.addRow("Voice detection", self.vad_mode)
        self.echo_cancellation = QCheckBox("Cancel the speaker's echo (talk over replies without headphones)")
        self.echo_cancellation.setChecked(s.echo_cancellation)
        self.echo_note = PlainLabel(echo_cancellation_note())
        self.echo_note.setWordWrap(True)
        self.echo_note.setProperty("muted", True)
        form.addRow("Echo", self.echo_cancellation)
        form.addRow("", self.echo_note)

    def _ptt(self, s: Settings) -> None:
        form = self._page("ptt", "Push-to-talk")
        self.ptt_key = KeyCaptureButton(s.ptt_key)
        form.addRow("Key", self.ptt_key)
        self.ptt_mode = _combo(CHOICES["ptt_mode"], s.ptt_mode)
        self.ptt_mode.setToolTip("hold: talk while the key is down · toggle: press to start and again to stop · "
                                 "hands-free: voice detection decides")
        form.addRow("Mode", self.ptt_mode)
        self.global_hotkey = QCheckBox("Also listen for the key while other apps have focus")
        self.global_hotkey.setChecked(s.global_hotkey)
        reason = hotkey.unsupported_reason()
        self.hotkey_note = PlainLabel(reason or "")
        self.hotkey_note.setWordWrap(True)
        self.hotkey_note.setProperty("muted", True)
        self.hotkey_note.setVisible(bool(reason))
        form.addRow("Global hotkey", self.global_hotkey)
        form.addRow("", self.hotkey_note)

    def _behaviour(self, s: Settings) -> None:
        form = self._page("behaviour", "Behaviour")
        self.quality = _combo(CHOICES["quality_profile"], s.quality_profile)
        self.quality.setToolTip("auto follows the power source: saver on battery below the threshold")
        form.addRow("Quality profile", self.quality)
        self.confirm = QCheckBox("Ask me before starting a CodeGen run")
        self.confirm.setChecked(s.confirm_before_create)
        form.addRow("Runs", self.confirm)
        self.speak_updates = QCheckBox("Say when a run finishes, fails or opens a pull request")
        self.speak_updates.setChecked(s.speak_run_updates)
        self.speak_updates.setToolTip("Gemini says it when you are not talking; off: the update is only shown in "
                                      "the conversation")
        form.addRow("Run updates", self.speak_updates)
        self.check_updates = QCheckBox("Tell me when a new version of the app is out")
        self.check_updates.setChecked(s.check_updates)
        self.check_updates.setToolTip("At most once a day the app asks the release feed (one request, nothing "
                                      "about you or this computer); it never downloads or installs anything")
        form.addRow("App updates", self.check_updates)

        self.code_folders = QLineEdit(s.code_folders)
        self.code_folders.setPlaceholderText(f"e.g. ~/src/api{os.pathsep}~/src/web")
        self.code_folders.setToolTip(f"Git repositories (separated by {os.pathsep!r}) whose repository and branch "
                                     "names Gemini should hear right, with your CodeGen repositories (applies from "
                                     "the next session)")
        form.addRow("Code folders", self.code_folders)

    def _mark_env_overrides(self) -> None:
        """A field an environment variable sets is read-only, and says which variable overrides it."""
        fields: dict[str, QWidget] = {
            "gemini_api_key": self.gemini_key, "live_url": self.live_url, "model": self.model, "voice": self.voice,
            "codegen_token": self.codegen_token, "codegen_org_id": self.codegen_org, "codegen_url": self.codegen_url,
            "input_device": self.input_device, "output_device": self.output_device, "denoise": self.denoise,
            "denoise_level": self.denoise_level, "vad_mode": self.vad_mode,
            "echo_cancellation": self.echo_cancellation, "ptt_key": self.ptt_key, "ptt_mode": self.ptt_mode,
            "global_hotkey": self.global_hotkey, "quality_profile": self.quality, "confirm_before_create": self.confirm,
            "speak_run_updates": self.speak_updates, "check_updates": self.check_updates}
        self.env_notes: dict[str, QLabel] = {}
        for name, var in env_overrides().items():
            widget = fields.get(name)
            if widget is None:
                continue
            if isinstance(widget, QLineEdit):
                widget.setReadOnly(True)
            else:
                widget.setEnabled(False)
            words = f"Set by ${var}: the environment overrides this field at every start"
            widget.setToolTip(words)
            widget.setAccessibleDescription(words)
            note = QLabel("↳ " + words)
            note.setProperty("muted", True)
            note.setWordWrap(True)
            page = widget.parentWidget()
            form = page.layout() if page is not None else None
            if isinstance(form, QFormLayout):
                position: Any = form.getWidgetPosition(widget)  # (row, role)
                form.insertRow(int(position[0]) + 1, "", note)
            self.env_notes[name] = note

    @staticmethod
    def _device(box: QComboBox) -> str | None:
        value = box.currentData()
        return value if isinstance(value, str) and value else None

    # ------------------------------------------------------------------ save
    def collect(self) -> Settings:
        """The settings as edited, every value checked as the app checks it at start (raises ``ConfigError``
        with a message naming the bad field as the dialog labels it)."""
        org_text = self.codegen_org.text().strip()
        if org_text and not org_text.isdigit():
            raise ConfigError("Organisation id: the CodeGen organisation id is a number, e.g. 1234.",
                              setting="codegen_org_id")
        new = self._edited(int(org_text) if org_text else None)
        try:
            check_settings(new)
        except ConfigError as exc:
            label = FIELD_LABELS.get(exc.setting or "", (exc.setting or "setting").replace("_", " "))
            raise ConfigError(f"{label}: {exc.why}", setting=exc.setting, why=exc.why) from None
        return new

    def _edited(self, org_id: int | None) -> Settings:
        return self.settings.replace(
            gemini_api_key=self.gemini_key.text().strip() or None,
            codegen_token=self.codegen_token.text().strip() or None,
            codegen_org_id=org_id, file_problems=(),
            live_url=self.live_url.text().strip(), codegen_url=self.codegen_url.text().strip(),
            model=self.model.text().strip(), voice=self.voice.currentText(),
            input_device=self._device(self.input_device), output_device=self._device(self.output_device),
            denoise=self.denoise.currentText(), denoise_level=int(self.denoise_level.currentData()),
            vad_mode=int(self.vad_mode.currentData()), echo_cancellation=self.echo_cancellation.isChecked(),
            ptt_key=self.ptt_key.key_name, ptt_mode=self.ptt_mode.currentText(),
            global_hotkey=self.global_hotkey.isChecked(), quality_profile=self.quality.currentText(),
            confirm_before_create=self.confirm.isChecked(), speak_run_updates=self.speak_updates.isChecked(),
            check_updates=self.check_updates.isChecked(),
            spoken_languages=self.spoken_languages.text().strip(), code_folders=self.code_folders.text().strip())

    def apply(self) -> Settings:
        """Store secrets in the keyring (unless for this session only) and the rest in the settings file; returns
        the new settings."""
        new = self.collect()
        if not self.session_only.isChecked():  # session only: the keys live in ``new``, in memory, and nowhere else
            for name in ("gemini_api_key", "codegen_token"):
                if getattr(new, name) != getattr(self.settings, name):
                    secrets.set_secret(name, getattr(new, name))
        save_settings(self.for_the_file(new))
        self.result_settings = new
        return new

    def for_the_file(self, new: Settings) -> Settings:
        """What the settings file should hold: what it held, plus what was changed here.  Values that came
        from the environment or the command line (e.g. GEMINI_CODEGEN_DATA_DIR) stay out of it."""
        from dataclasses import fields

        on_file = load_settings(env={}, use_keyring=False)
        changed = {f.name: getattr(new, f.name) for f in fields(Settings)
                   if getattr(new, f.name) != getattr(self.settings, f.name)}
        return on_file.replace(**changed)

    def _save_clicked(self) -> None:
        try:
            self.apply()
        except (ConfigError, secrets.SecretStoreError, OSError) as exc:
            self.error.setText(str(exc))
            self.error.setStyleSheet("color: #ff6b6b; font-weight: 600;")
            self.error.setVisible(True)
            return
        self.mic_test.stop()
        self.accept()

    def reject(self) -> None:
        self.mic_test.stop()
        super().reject()


def echo_cancellation_note() -> str:
    """What Settings says about echo cancellation on this machine (and the fallback when it is missing)."""
    from audio.echo import make_canceller

    canceller, why = make_canceller("webrtc")
    if canceller is not None:
        return ("WebRTC echo cancellation is available: hands-free and talking over a reply work through "
                "laptop speakers.  Turned off, hands-free mutes the microphone while the assistant speaks.")
    return (f"Echo cancellation is not available here ({why}): hands-free mutes the microphone while the "
            "assistant speaks (half-duplex), so use headphones to talk over a reply.")
