"""Devices as a person knows them, and the sound library's errors in plain words."""

from __future__ import annotations

import pytest

from audio.devices import Device, ServerSource, device_label, plain_reason

SOURCES = ([ServerSource("alsa_input.pci-0000_00_1f.3.analog-stereo", "Built-in Audio Analog Stereo", "0", "0"),
            ServerSource("alsa_output.pci-0000_00_1f.3.analog-stereo.monitor", "Monitor of Built-in Audio", "0", "0"),
            ServerSource("alsa_input.usb-Logi_Headset-00.mono-fallback", "Logitech USB Headset Mono", "2", "0")],
           "alsa_input.usb-Logi_Headset-00.mono-fallback")


def dev(name: str) -> Device:
    return Device(0, name, "ALSA", 2, 0, 48000.0)


@pytest.mark.parametrize(("name", "label"), [
    ("default", "System default (Logitech USB Headset Mono)"),
    ("pulse", "System default (Logitech USB Headset Mono)"),
    ("HDA Intel PCH: ALC257 Analog (hw:0,0)", "Built-in Audio Analog Stereo"),
    ("Logitech USB Headset: Audio (hw:2,0)", "Logitech USB Headset Mono"),
    ("Some Card: Digital (hw:5,1)", "Some Card: Digital"),  # the server does not know it: the name, no "hw:"
    ("MacBook Pro Microphone", "MacBook Pro Microphone"),
])
def test_device_names_a_person_recognises(name, label):
    assert device_label(dev(name), SOURCES) == label


def test_without_a_sound_server_the_default_is_just_the_default():
    assert device_label(dev("default"), ([], "")) == "System default"


@pytest.mark.parametrize(("raw", "words"), [
    ("Error opening RawInputStream: Device unavailable [PaErrorCode -9985]", "another application is using it"),
    ("Error opening RawInputStream: Unanticipated host error [PaErrorCode -9999]: 'Input/output error' "
     "[ALSA error -5]", "the sound system (PulseAudio, PipeWire or ALSA) refused to open it"),
    ("Error opening RawInputStream: Invalid number of channels [PaErrorCode -9998]", "it is not a microphone"),
    ("Error querying device -1", "the sound system refused to open it"),
])
def test_library_errors_in_plain_words(raw, words):
    said = plain_reason(raw)
    assert words in said and "PaErrorCode" not in said and "-99" not in said
