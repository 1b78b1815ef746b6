"""Gemini Live CodeGen Desktop: the engine (no Qt here)."""

__version__ = "0.1.0"
