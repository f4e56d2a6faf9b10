"""A self-signed HTTPS certificate for localhost.

Office add-ins load only over HTTPS, even from localhost, so `kpibook serve` and the demo
create one under the instance folder when no --cert/--key is given. Production deployments put
a real certificate (or a TLS-terminating proxy) in front instead.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

CERT_NAME = "localhost-cert.pem"
KEY_NAME = "localhost-key.pem"


def ensure_self_signed(folder: str | os.PathLike[str], hostnames: tuple[str, ...] = (
        "localhost", "127.0.0.1", "::1"), days: int = 825) -> tuple[Path, Path]:
    """(cert, key) paths in `folder`; generated when absent or expiring within a week."""
    folder = Path(folder)
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    if cert_path.is_file() and key_path.is_file() and not _expiring(cert_path):
        return cert_path, key_path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kpibook (self-signed)")])
    alt: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        # 825 days: the longest validity macOS/Chrome accept for a TLS server certificate.
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    # The key is written first and private: a crash between the two writes leaves no
    # certificate without its key.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _expiring(cert_path: Path) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return True
    return cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
