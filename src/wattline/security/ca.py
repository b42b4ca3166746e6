"""Wattline's certificate authority: device and broker certificates, and what is revoked. Pure.

The CA is one EC P-256 key and its self-signed certificate in ``DATA_DIR/ca``
(``cli/ca.py`` makes them, ``runtime/ca.py`` reads them). A device sends a
certificate signing request whose common name is its device id; the broker
(``require_certificate``, ``use_identity_as_username``) then knows the device
by that name, and the dynamic-security ACLs written for the device apply.
Nothing here touches a file: keys and certificates come in and go out as PEM.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["NameOID"]

# A CSR is a few hundred bytes (P-256) to under 2 KiB (RSA 4096 with a few
# extensions); anything larger is not a CSR worth parsing.
MAX_CSR_BYTES = 8 * 1024
MIN_RSA_BITS = 2048
DEVICE_VALIDITY_DAYS = 365
BROKER_VALIDITY_DAYS = 365
CA_VALIDITY_DAYS = 10 * 365  # rotated by hand (docs/operations.md), so long-lived
# A CRL is re-made at each revocation and at each start; devices do not fetch it.
CRL_VALIDITY_DAYS = 30
# Certificates issued a moment before "now" still verify on a device whose clock lags.
_BACKDATE = dt.timedelta(minutes=5)
_SERIAL_BITS = 128


class CsrError(ValueError):
    """The CSR cannot be signed; the message says why (an API answers 422 with it)."""


@dataclass(frozen=True, slots=True)
class Authority:
    """The CA's key and certificate, loaded."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def from_pem(cls, key_pem: bytes, certificate_pem: bytes) -> Authority:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError("the CA key is not an EC key")
        return cls(key, x509.load_pem_x509_certificate(certificate_pem))

    def key_pem(self) -> bytes:
        return key_pem(self.key)

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate the CA signed: its serial (hex, as stored) and its PEM."""

    serial: str
    common_name: str
    not_after: dt.datetime
    pem: bytes


@dataclass(frozen=True, slots=True)
class Revoked:
    serial: str
    revoked_at: dt.datetime


def create_authority(name: str, now: dt.datetime) -> Authority:
    """A new CA: an EC P-256 key and a self-signed certificate valid for CA_VALIDITY_DAYS."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(new_serial())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=CA_VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, certificate)


def new_serial() -> int:
    # RFC 5280: positive, at most 20 octets; 128 random bits cannot be guessed.
    return secrets.randbits(_SERIAL_BITS) | 1


def serial_hex(serial: int) -> str:
    return format(serial, "x")


def parse_csr(pem: bytes, device_id: str) -> x509.CertificateSigningRequest:
    """The CSR, if it is one Wattline signs for ``device_id``; else CsrError."""
    if len(pem) > MAX_CSR_BYTES:
        raise CsrError(f"a CSR is at most {MAX_CSR_BYTES} bytes")
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        raise CsrError("not a PEM certificate signing request") from exc
    if not csr.is_signature_valid:
        raise CsrError("the CSR's signature does not match its key")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or names[0].value != device_id:
        raise CsrError(f"the CSR's common name must be the device id {device_id!r}")
    _check_key(csr.public_key())
    return csr


def _check_key(key: object) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise CsrError(f"EC keys must be P-256, not {key.curve.name}")
        return
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CsrError(f"RSA keys must have at least {MIN_RSA_BITS} bits")
        return
    raise CsrError("the key must be EC P-256 or RSA")


def sign_client(
    authority: Authority,
    csr: x509.CertificateSigningRequest,
    now: dt.datetime,
    validity_days: int = DEVICE_VALIDITY_DAYS,
) -> Issued:
    """A client certificate (clientAuth) for a CSR that passed ``parse_csr``.

    Only the common name and the key are taken from the CSR: a device cannot
    ask for extensions (a CA flag, other names) of its own.
    """
    common_name = str(csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    return _sign(
        authority,
        csr.public_key(),  # type: ignore[arg-type]  # parse_csr allowed EC and RSA only
        common_name,
        ExtendedKeyUsageOID.CLIENT_AUTH,
        now,
        validity_days,
        alt_names=[],
    )


def sign_server(
    authority: Authority,
    key: ec.EllipticCurvePrivateKey,
    host: str,
    now: dt.datetime,
    validity_days: int = BROKER_VALIDITY_DAYS,
) -> Issued:
    """The broker's certificate: serverAuth, CN and DNS name ``host``."""
    return _sign(
        authority,
        key.public_key(),
        host,
        ExtendedKeyUsageOID.SERVER_AUTH,
        now,
        validity_days,
        alt_names=[host],
    )


def _sign(  # noqa: PLR0913, PLR0917 - every part of a certificate, once
    authority: Authority,
    public: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    common_name: str,
    usage: x509.ObjectIdentifier,
    now: dt.datetime,
    validity_days: int,
    alt_names: list[str],
) -> Issued:
    serial = new_serial()
    not_after = now + dt.timedelta(days=validity_days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(authority.certificate.subject)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()),
            critical=False,
        )
    )
    if alt_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(name) for name in alt_names]),
            critical=False,
        )
    certificate = builder.sign(authority.key, hashes.SHA256())
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    return Issued(serial_hex(serial), common_name, not_after, pem)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def revocation_list(authority: Authority, revoked: Iterable[Revoked], now: dt.datetime) -> bytes:
    """The CRL (PEM) of every revoked serial, signed by the CA."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now - _BACKDATE)
        .next_update(now + dt.timedelta(days=CRL_VALIDITY_DAYS))
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(int(entry.serial, 16))
            .revocation_date(entry.revoked_at)
            .build()
        )
    crl = builder.sign(authority.key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.PEM)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
