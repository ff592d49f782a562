"""A minimal SMTP sink for the sending benchmark: accepts every message and keeps nothing.

    .venv/bin/python bench/smtp_sink.py PORT

It speaks just enough ESMTP (EHLO with PIPELINING, MAIL, RCPT, DATA, RSET, NOOP, QUIT) to
take mail as fast as asyncio allows, so that what the benchmark measures is the sender.
Prints ``ready`` once it listens.
"""

from __future__ import annotations

import asyncio
import sys


class Session(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies = []
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    break
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                replies.append(b"250 2.0.0 Queued")
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                break
            self.buffer = rest
            verb = line[:4].upper()
            if verb == b"EHLO":
                replies.append(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800")
            elif verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer  # the end marker may follow at once
                replies.append(b"354 End data with <CR><LF>.<CR><LF>")
            elif verb == b"QUIT":
                self.transport.write(b"221 Bye\r\n")
                self.transport.close()
                return
            else:
                replies.append(b"250 OK")
        if replies:
            self.transport.write(b"\r\n".join(replies) + b"\r\n")


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Session, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
