"""The CA's directory, ``DATA_DIR/ca``: its key (0600, read only here), certificate, CRL,
and the broker's own certificate and key."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from wattline.security import ca

CA_DIR = "ca"
# Re-issued at start when it has less than this left, or names another host.
BROKER_RENEW_BEFORE = dt.timedelta(days=30)


class CaMissingError(Exception):
    """No CA in the data dir: ``wattline ca init`` makes one."""


class CaExistsError(Exception):
    """A CA is there already; making a new one would orphan every device certificate."""


@dataclass(frozen=True, slots=True)
class CaFiles:
    directory: Path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> CaFiles:
        return cls(data_dir / CA_DIR)

    @property
    def key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def certificate(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def crl(self) -> Path:
        return self.directory / "crl.pem"

    @property
    def broker_certificate(self) -> Path:
        return self.directory / "broker.crt"

    @property
    def broker_key(self) -> Path:
        return self.directory / "broker.key"

    def exists(self) -> bool:
        return self.key.exists() or self.certificate.exists()

    def init(self, name: str, now: dt.datetime) -> ca.Authority:
        """A new CA, its key written 0600; CaExistsError rather than overwrite one."""
        if self.exists():
            raise CaExistsError(f"a CA exists already in {self.directory}")
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        authority = ca.create_authority(name, now)
        _write_private(self.key, authority.key_pem())
        self.certificate.write_bytes(authority.certificate_pem())
        self.write_crl(ca.revocation_list(authority, [], now))
        return authority

    def load(self) -> ca.Authority:
        if not (self.key.exists() and self.certificate.exists()):
            raise CaMissingError(f"no CA in {self.directory}: run `wattline ca init`")
        return ca.Authority.from_pem(self.key.read_bytes(), self.certificate.read_bytes())

    def write_crl(self, pem: bytes) -> None:
        _replace(self.crl, pem, 0o644)

    def ensure_broker_certificate(
        self, authority: ca.Authority, host: str, now: dt.datetime
    ) -> None:
        """The broker's certificate and key, issued for ``host`` when missing or due."""
        if self._broker_certificate_good(host, now):
            return
        key = ca.new_key()
        issued = ca.sign_server(authority, key, host, now)
        _write_private(self.broker_key, ca.key_pem(key))
        _replace(self.broker_certificate, issued.pem, 0o644)

    def _broker_certificate_good(self, host: str, now: dt.datetime) -> bool:
        if not (self.broker_certificate.exists() and self.broker_key.exists()):
            return False
        certificate = x509.load_pem_x509_certificate(self.broker_certificate.read_bytes())
        names = [
            a.value for a in certificate.subject.get_attributes_for_oid(ca.NameOID.COMMON_NAME)
        ]
        return (
            names == [host]
            and certificate.not_valid_after_utc - now > BROKER_RENEW_BEFORE
            and certificate.issuer == self.load().certificate.subject
        )


def _write_private(path: Path, data: bytes) -> None:
    _replace(path, data, 0o600)


def _replace(path: Path, data: bytes, mode: int) -> None:
    # Written beside and renamed: Mosquitto never reads half a file.
    temporary = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.chmod(temporary, mode)  # noqa: PTH101 - the umask may have narrowed it
    temporary.replace(path)
