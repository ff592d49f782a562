"""A real POP3 server on loopback (RFC 1939, the commands a client fetching and deleting mail
uses) for the bounce mailbox tests: one mailbox, one user; deletions apply at QUIT."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.conftest import free_port


@dataclass
class Maildrop:
    url: str
    messages: list[bytes] = field(default_factory=list)
    sessions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def pop3_server(user: str = "bounces", password: str = "s3cret") -> Iterator[Maildrop]:  # noqa: S107
    port = free_port()
    drop = Maildrop(url=f"pop3://{user}:{password}@127.0.0.1:{port}?every=0.2&tls=none")

    class Session(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            with drop.lock:
                drop.sessions += 1
                held = list(drop.messages)
            deleted: set[int] = set()
            named, authorized = "", False
            self.reply("+OK roster test POP3 ready")
            for raw in self.rfile:
                command, _, argument = raw.decode().strip().partition(" ")
                command = command.upper()
                if command == "USER":
                    named = argument
                    self.reply("+OK")
                elif command == "PASS":
                    authorized = named == user and argument == password
                    self.reply("+OK logged in" if authorized else "-ERR wrong password")
                elif command == "CAPA":
                    self.reply("+OK\r\nUSER\r\n.")
                elif command == "QUIT":
                    if authorized:
                        with drop.lock:
                            drop.messages = [m for n, m in enumerate(held, 1) if n not in deleted]
                    self.reply("+OK bye")
                    return
                elif not authorized:
                    self.reply("-ERR log in first")
                elif command == "STAT":
                    live = [m for n, m in enumerate(held, 1) if n not in deleted]
                    self.reply(f"+OK {len(live)} {sum(map(len, live))}")
                elif command == "RETR":
                    body = held[int(argument) - 1]
                    lines = [b"." + line if line.startswith(b".") else line for line in body.split(b"\r\n")]
                    self.wfile.write(b"+OK\r\n" + b"\r\n".join(lines).rstrip(b"\r\n") + b"\r\n.\r\n")
                elif command == "DELE":
                    deleted.add(int(argument))
                    self.reply("+OK deleted")
                else:
                    self.reply("-ERR unknown command")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Session)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield drop
    finally:
        server.shutdown()
        server.server_close()
