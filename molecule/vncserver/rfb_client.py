"""RFB (VNC) client the Molecule verify runs on the controller against the container.

Usage: rfb_client.py HOST PORT
Reads the VNC password from standard input (so it is never on a command line), does the RFB 3.8
handshake with VNC authentication, and asks for the desktop. Prints one result line and exits 0
when the server accepted the password ("ok WIDTHxHEIGHT depth=D bpp=B name=NAME"), 1 when it
refused it ("refused: REASON"), 2 on a protocol error.
"""

import socket
import struct
import sys

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

VNC_AUTH = 2


def recv_exact(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def vnc_key(password):
    # VNC uses the first 8 bytes of the password as a DES key, each byte's bits mirrored.
    raw = password.encode("latin-1")[:8].ljust(8, b"\0")
    return bytes(int(f"{byte:08b}"[::-1], 2) for byte in raw)


def answer(challenge, password):
    # TripleDES with the same key three times is plain DES.
    encryptor = Cipher(TripleDES(vnc_key(password) * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


def handshake(host, port, password):
    with socket.create_connection((host, port), timeout=10) as sock:
        banner = recv_exact(sock, 12)
        if not banner.startswith(b"RFB 003."):
            print(f"protocol error: banner {banner!r}")
            return 2
        sock.sendall(b"RFB 003.008\n")
        count = recv_exact(sock, 1)[0]
        if count == 0:
            length = struct.unpack(">I", recv_exact(sock, 4))[0]
            print(f"refused: {recv_exact(sock, length).decode(errors='replace')}")
            return 1
        types = list(recv_exact(sock, count))
        if VNC_AUTH not in types:
            print(f"protocol error: no VNC authentication among security types {types}")
            return 2
        sock.sendall(bytes([VNC_AUTH]))
        sock.sendall(answer(recv_exact(sock, 16), password))
        result = struct.unpack(">I", recv_exact(sock, 4))[0]
        if result != 0:
            length = struct.unpack(">I", recv_exact(sock, 4))[0]
            print(f"refused: {recv_exact(sock, length).decode(errors='replace')}")
            return 1
        sock.sendall(b"\x01")  # ClientInit: share the desktop with other viewers
        width, height = struct.unpack(">HH", recv_exact(sock, 4))
        pixel_format = recv_exact(sock, 16)
        length = struct.unpack(">I", recv_exact(sock, 4))[0]
        name = recv_exact(sock, length).decode(errors="replace")
        print(f"ok {width}x{height} depth={pixel_format[1]} bpp={pixel_format[0]} name={name}")
        return 0


def main(argv):
    password = sys.stdin.readline().rstrip("\n")
    return handshake(argv[1], int(argv[2]), password)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
