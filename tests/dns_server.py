"""A real DNS server on loopback (UDP) answering TXT and A queries from dicts it reads on each query."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.rrset


@contextmanager
def txt_server(records: dict[str, list[str]], addresses: dict[str, list[str]] | None = None) -> Iterator[str]:
    """Serve ``records`` (name → TXT strings) and ``addresses`` (name → IPv4 addresses); yields
    ``host:port`` for ``ROSTER_DNS_NAMESERVER``. Changes to the dicts show in later answers."""
    addresses = {} if addresses is None else addresses
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            if question.rdtype == dns.rdatatype.TXT and name in records:
                quoted = [f'"{value}"' for value in records[name]]
                response.answer.append(
                    dns.rrset.from_text(question.name, 60, dns.rdataclass.IN, "TXT", *quoted)
                )
            elif question.rdtype == dns.rdatatype.A and name in addresses:
                response.answer.append(
                    dns.rrset.from_text(question.name, 0, dns.rdataclass.IN, "A", *addresses[name])
                )
            elif name not in records and name not in addresses:
                response.set_rcode(3)  # NXDOMAIN
            response.flags |= dns.flags.AA
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        sock.close()
