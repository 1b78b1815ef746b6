"""A release feed on loopback for the update check's tests: a real HTTP(S) server on 127.0.0.1 that counts the
requests it gets and answers each path as told (status, headers, body), or stalls until it is stopped."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STALL_S = 30.0  # a stalled answer waits at most this long (the server's stop releases it at once)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False  # never answer (until the server stops)


def release(tag: str, notes: str = "Faster replies.", url: str = "https://github.com/acme/app/releases/tag/v1",
            **extra: object) -> dict[str, object]:
    """One release as GitHub's releases API describes it."""
    return {"tag_name": tag, "name": tag, "body": notes, "html_url": url, "draft": False, "prerelease": False,
            **extra}


def feed(*releases: dict[str, object]) -> Answer:
    return Answer(body=json.dumps(list(releases)).encode())


class ReleaseFeed:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, headers) of each request
        self.released = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                owner.requests.append((self.path, dict(self.headers)))
                answer = owner.answers.get(self.path, Answer(404, b'{"message": "Not Found"}'))
                if answer.stall:
                    owner.released.wait(STALL_S)
                    return
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json", "Content-Length": str(len(answer.body)),
                           **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="release-feed", daemon=True)

    def url(self, path: str = "/releases") -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}{path}"

    def answer(self, path: str, answer: Answer) -> str:
        self.answers[path] = answer
        return self.url(path)

    def start(self) -> ReleaseFeed:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@contextmanager
def release_feed(tls: ssl.SSLContext | None = None) -> Iterator[ReleaseFeed]:
    server = ReleaseFeed(tls).start()
    try:
        yield server
    finally:
        server.stop()
