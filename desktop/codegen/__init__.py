"""CodeGen agent API: shapes, HTTP client, Gemini tools, run tracker, local emulator."""
