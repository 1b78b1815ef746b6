"""Read the app's accessibility tree over AT-SPI, as a screen reader does (run with the system Python that has
pyatspi, inside the app's D-Bus session; tests/e2e/test_accessibility.py).  Prints one JSON object: every
node of the app (role, name, description, states) once its push-to-talk button is there."""

from __future__ import annotations

import json
import sys
import time

import pyatspi


def walk(node, depth: int = 0, out: list | None = None) -> list:
    out = [] if out is None else out
    if node is None or depth > 40:
        return out
    try:
        states = node.getState().getStates()
        out.append({"role": node.getRoleName(), "name": node.name or "", "description": node.description or "",
                    "states": [pyatspi.stateToString(s) for s in states]})
        for i in range(node.childCount):
            walk(node.getChildAtIndex(i), depth + 1, out)
    except Exception as exc:  # a node that went away while being read
        out.append({"role": "gone", "name": str(exc)[:80], "description": "", "states": []})
    return out


def main() -> int:
    app_name = sys.argv[1]
    deadline = time.monotonic() + float(sys.argv[2] if len(sys.argv) > 2 else 40)
    nodes: list = []
    while time.monotonic() < deadline:
        desktop = pyatspi.Registry.getDesktop(0)
        apps = [desktop.getChildAtIndex(i) for i in range(desktop.childCount)]
        for app in apps:
            if app is not None and app.name == app_name:
                nodes = walk(app)
                if any(n["name"] == "Push to talk" and "showing" in n["states"] for n in nodes):
                    print(json.dumps({"app": app.name, "nodes": nodes}))
                    return 0
        time.sleep(0.25)
    print(json.dumps({"app": None, "apps": [a.name for a in apps if a is not None], "nodes": nodes}))
    return 1


if __name__ == "__main__":
    sys.exit(main())
