"""Protocol probes for the Molecule verification of the activemq role, run on the controller.

  broker_probe.py openwire HOST PORT
      Opens a TCP connection and reads the frame an ActiveMQ broker greets every client with:
      WireFormatInfo (4-byte size, type 1, the magic b"ActiveMQ", 4-byte protocol version).
      Prints "OpenWire VERSION" and exits 0, or explains and exits 1.
  broker_probe.py stomp HOST PORT
      Logs in with a STOMP 1.2 CONNECT frame (user and password from STOMP_USER and
      STOMP_PASSWORD) and prints the command of the broker's answer (CONNECTED or ERROR) and
      its "message" header.
"""

from __future__ import annotations

import os
import socket
import struct
import sys

TIMEOUT = 10


def read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {count} bytes")
        data += chunk
    return data


def openwire(host: str, port: int) -> int:
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        size, kind = struct.unpack(">IB", read_exactly(sock, 5))
        magic = read_exactly(sock, 8)
        (version,) = struct.unpack(">I", read_exactly(sock, 4))
    if kind != 1 or magic != b"ActiveMQ":
        print(f"not a WireFormatInfo frame: type {kind}, magic {magic!r}, size {size}")
        return 1
    print(f"OpenWire {version}")
    return 0


def stomp(host: str, port: int) -> int:
    frame = (
        "CONNECT\n"
        "accept-version:1.2\n"
        f"host:{host}\n"
        f"login:{os.environ.get('STOMP_USER', '')}\n"
        f"passcode:{os.environ.get('STOMP_PASSWORD', '')}\n"
        "\n\0"
    )
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(frame.encode())
        answer = b""
        while b"\0" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    lines = answer.split(b"\0", 1)[0].decode(errors="replace").lstrip("\n").split("\n")
    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    print(lines[0], headers.get("message", ""))
    return 0


def main() -> int:
    probe, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    return {"openwire": openwire, "stomp": stomp}[probe](host, port)


if __name__ == "__main__":
    sys.exit(main())
