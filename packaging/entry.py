"""Entry point of the packaged app: the same command line as `gemini-codegen` from source."""

import sys

from desktop.launch import main

if __name__ == "__main__":
    sys.exit(main())
