"""FTP client the Molecule verify runs on the controller against the container.

Usage: ftp_client.py HOST MODE [USER PASSWORD]
MODE is one of: tls-roundtrip (log in over FTPS, upload, list, download, compare),
plain-login (log in without TLS), anonymous (anonymous login). Prints one result line;
exit 0 means the operation succeeded, 1 that the server refused it.
"""

import io
import ssl
import sys
from ftplib import FTP, FTP_TLS, error_perm


def tls_roundtrip(host, user, password):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    ftp = FTP_TLS(host, timeout=10, context=context)
    ftp.login(user, password)
    ftp.prot_p()
    root = ftp.pwd()
    ftp.cwd("files")
    payload = b"uploaded by molecule\n"
    ftp.storbinary("STOR molecule.txt", io.BytesIO(payload))
    names = ftp.nlst()
    back = io.BytesIO()
    ftp.retrbinary("RETR molecule.txt", back.write)
    cipher = ftp.sock.version()
    ftp.quit()
    if "molecule.txt" not in names or back.getvalue() != payload:
        print(f"round trip failed: list={names} content={back.getvalue()!r}")
        return 1
    print(f"ok {cipher} root={root} list={names}")
    return 0


def plain_login(host, user, password):
    ftp = FTP(host, timeout=10)
    try:
        ftp.login(user, password)
    except error_perm as err:
        print(f"refused: {err}")
        return 1
    ftp.quit()
    print("logged in")
    return 0


def anonymous(host):
    # ftplib's own anonymous login: user "anonymous", password "anonymous@".
    return plain_login(host, "anonymous", "")


def main(argv):
    host, mode = argv[1], argv[2]
    if mode == "tls-roundtrip":
        return tls_roundtrip(host, argv[3], argv[4])
    if mode == "plain-login":
        return plain_login(host, argv[3], argv[4])
    return anonymous(host)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
