"""A throw-away PKI made with openssl: a CA, a server cert for 127.0.0.1, a client cert,
and a client cert from a rogue CA (for refusals)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _cert(dir: Path, name: str, *, ca: str, subject: str, ext: str) -> tuple[Path, Path]:
    key, csr, cert = dir / f"{name}.key", dir / f"{name}.csr", dir / f"{name}.pem"
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", subject)
    (dir / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(dir / f"{ca}.pem"), "-CAkey",
             str(dir / f"{ca}.key"), "-CAcreateserial", "-out", str(cert), "-days", "2",
             "-extfile", str(dir / f"{name}.ext"))
    return cert, key


def _ca(dir: Path, name: str) -> Path:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(dir / f"{name}.key"), "-out", str(dir / f"{name}.pem"),
             "-days", "2", "-subj", f"/CN={name}")
    return dir / f"{name}.pem"


def make_pki(d: Path) -> dict[str, Path]:
    """Files in ``d``: ca, rogue, server(+_key), client(+_key), bad(+_key)."""
    ca, rogue = _ca(d, "ca"), _ca(d, "rogue")
    server, server_key = _cert(d, "server", ca="ca", subject="/CN=stackd",
                               ext="subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    client, client_key = _cert(d, "client", ca="ca", subject="/CN=client",
                               ext="extendedKeyUsage=clientAuth\n")
    bad, bad_key = _cert(d, "bad", ca="rogue", subject="/CN=intruder",
                         ext="extendedKeyUsage=clientAuth\n")
    return {"ca": ca, "rogue": rogue, "server": server, "server_key": server_key,
            "client": client, "client_key": client_key, "bad": bad, "bad_key": bad_key}
