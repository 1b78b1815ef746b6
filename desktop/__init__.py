"""Gemini Live CodeGen Desktop: the engine (no Qt here)."""

__version__ = "0.1.0"
APP_NAME = "gemini-codegen"  # the command, the desktop entry, the config and data folders
