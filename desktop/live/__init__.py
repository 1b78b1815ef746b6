"""Gemini Live: sans-I/O wire protocol, asyncio client and local emulator."""
