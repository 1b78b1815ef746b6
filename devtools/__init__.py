"""Developer tools: the benchmark, the load test and the generated performance documents.

Installed with a source checkout (`pip install -e .[dev]`), left out of the packaged app.  They drive the
same engine the window uses (``desktop`` and ``audio``) and may import anything; nothing imports them.
"""
