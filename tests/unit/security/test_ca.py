"""Wattline's CA: what it signs, what it refuses, and its CRL."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wattline.security import ca
from wattline.security.ca_files import CaExistsError, CaFiles, CaMissingError

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def authority() -> ca.Authority:
    return ca.create_authority("Test CA", NOW)


def csr_pem(common_name: str, key: object | None = None) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, algorithm)  # type: ignore[arg-type]
    return csr.public_bytes(serialization.Encoding.PEM)


def test_a_signed_certificate_is_a_client_certificate_for_the_device(
    authority: ca.Authority,
) -> None:
    issued = ca.sign_client(authority, ca.parse_csr(csr_pem("plug-1"), "plug-1"), NOW)
    cert = x509.load_pem_x509_certificate(issued.pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "plug-1"
    assert cert.issuer == authority.certificate.subject
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert format(cert.serial_number, "x") == issued.serial
    assert cert.serial_number.bit_length() > 64
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=ca.DEVICE_VALIDITY_DAYS)
    cert.verify_directly_issued_by(authority.certificate)


def test_serials_differ(authority: ca.Authority) -> None:
    csr = ca.parse_csr(csr_pem("plug-1"), "plug-1")
    assert ca.sign_client(authority, csr, NOW).serial != ca.sign_client(authority, csr, NOW).serial


def test_validity_is_configurable(authority: ca.Authority) -> None:
    issued = ca.sign_client(authority, ca.parse_csr(csr_pem("d"), "d"), NOW, validity_days=30)
    assert issued.not_after == NOW + dt.timedelta(days=30)


@pytest.mark.parametrize(
    ("pem", "reason"),
    [
        (lambda: csr_pem("plug-2"), "common name"),
        (lambda: csr_pem("plug-1", rsa.generate_private_key(65537, 1024)), "2048"),
        (lambda: csr_pem("plug-1", ec.generate_private_key(ec.SECP384R1())), "P-256"),
        (lambda: csr_pem("plug-1", ed25519.Ed25519PrivateKey.generate()), "EC P-256 or RSA"),
        (lambda: b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "not a PEM"),
        (lambda: b"x" * (ca.MAX_CSR_BYTES + 1), "at most"),
    ],
    ids=["wrong-cn", "rsa-1024", "p-384", "ed25519", "garbage", "huge"],
)
def test_refused_csrs(pem: object, reason: str) -> None:
    with pytest.raises(ca.CsrError, match=reason):
        ca.parse_csr(pem(), "plug-1")  # type: ignore[operator]


def test_an_rsa_2048_csr_is_signed(authority: ca.Authority) -> None:
    key = rsa.generate_private_key(65537, 2048)
    ca.sign_client(authority, ca.parse_csr(csr_pem("plug-1", key), "plug-1"), NOW)


def test_a_tampered_csr_is_refused() -> None:
    good = x509.load_pem_x509_csr(csr_pem("plug-1"))
    other = ec.generate_private_key(ec.SECP256R1())
    # The body names another key than the one that signed it.
    der = bytearray(good.public_bytes(serialization.Encoding.DER))
    theirs = good.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mine = other.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    start = bytes(der).index(theirs)
    der[start : start + len(theirs)] = mine
    forged = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(ca.CsrError, match="signature"):
        ca.parse_csr(forged, "plug-1")


def test_the_crl_lists_revoked_serials(authority: ca.Authority) -> None:
    issued = ca.sign_client(authority, ca.parse_csr(csr_pem("d"), "d"), NOW)
    crl = x509.load_pem_x509_crl(
        ca.revocation_list(authority, [ca.Revoked(issued.serial, NOW)], NOW)
    )
    assert crl.is_signature_valid(authority.key.public_key())
    assert crl.get_revoked_certificate_by_serial_number(int(issued.serial, 16)) is not None


def test_the_ca_files(tmp_path: Path) -> None:
    files = CaFiles.in_data_dir(tmp_path)
    with pytest.raises(CaMissingError):
        files.load()
    made = files.init("Wattline CA", NOW)
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert files.load().certificate == made.certificate
    with pytest.raises(CaExistsError):
        files.init("Wattline CA", NOW)
    files.ensure_broker_certificate(made, "broker.example", NOW)
    first = files.broker_certificate.read_bytes()
    assert stat.S_IMODE(files.broker_key.stat().st_mode) == 0o600
    files.ensure_broker_certificate(made, "broker.example", NOW)
    assert files.broker_certificate.read_bytes() == first  # still good: kept
    files.ensure_broker_certificate(made, "other.example", NOW)
    assert files.broker_certificate.read_bytes() != first  # another host: re-issued
