"""Audio: devices, signal processing and file sources (no Qt here)."""
