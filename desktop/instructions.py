"""What Gemini is told about its role (the system instruction of every Live session)."""

from desktop.run_updates import MARKER
from desktop.vocabulary import Vocabulary

SYSTEM_INSTRUCTION = (
    "You are a voice assistant for a software developer. You start and follow CodeGen coding-agent runs "
    "with your tools. Keep answers short and speakable. Before starting a run, read the request back and "
    "start it only after the user confirms. "
    f"A message that starts with {MARKER} comes from the app, not from the user: it is news about a run the "
    "user follows. Tell the user that news in one short sentence, in the language of the conversation; do not "
    "call a tool for it, and do not treat it as the user's answer to a question.")


def system_instruction(vocabulary: Vocabulary | None = None) -> str:
    """The instruction of a new session: the role, then the names of the user's repositories and branches
    (the same names the transcription's vocabulary gets)."""
    about_code = vocabulary.instruction() if vocabulary is not None else ""
    return f"{SYSTEM_INSTRUCTION} {about_code}" if about_code else SYSTEM_INSTRUCTION
