"""Device certificates from Wattline's CA, and pairing, over the API (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from tests.integration.security.tenants import ADMIN_TOKEN, PRINCIPALS, FixedTokens, bearer

from wattline.api.app import create_app
from wattline.api.routers.pairing import claims_throttle
from wattline.api.services import ApiServices
from wattline.security import ca, pairing
from wattline.security.audit import AuditEvent
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

NOW_MS = 1_764_057_600_000
ADMIN = bearer(ADMIN_TOKEN)
T2 = bearer("owner-t2")


@dataclass
class Recorded:
    passwords: dict[str, str] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)
    crls: list[bytes] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    now_ms: list[int] = field(default_factory=lambda: [NOW_MS])

    def grant(self, device_id: str, password: str) -> None:
        self.passwords[device_id] = password

    def revoke(self, device_id: str) -> None:
        self.revoked.append(device_id)

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)

    def actions(self) -> list[str]:
        return [e.action for e in self.events]


@pytest.fixture(scope="module")
def authority() -> ca.Authority:
    return ca.create_authority("Test CA", dt.datetime.now(dt.UTC))


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


@pytest.fixture
def api(store: SqlStore, authority: ca.Authority, recorded: Recorded) -> Iterator[TestClient]:
    services = ApiServices(
        store=store,
        admin_token=ADMIN_TOKEN,
        registry=CollectorRegistry(),
        offline_after_ms=120_000,
        authenticator=FixedTokens(PRINCIPALS),
        credentials=store,
        broker_accounts=recorded,
        audit=recorded,
        authority=authority,
        publish_crl=recorded.crls.append,
        pairing=store,
        pairing_throttle=claims_throttle(),
        clock_ms=lambda: recorded.now_ms[0],
    )
    for device_id in ("plug-1", "plug-2"):
        store.register_device(device_id, "smart_plug", NOW_MS, tenant_id=DEFAULT_TENANT)
    store.register_device("plug-t3", "smart_plug", NOW_MS, tenant_id="t3")
    with TestClient(create_app(services)) as client:
        yield client


def csr(common_name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    request = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM).decode()


def sign(api: TestClient, device_id: str, headers: dict[str, str] = ADMIN) -> dict[str, str]:
    response = api.post(
        f"/api/v1/devices/{device_id}/certificates", json={"csr": csr(device_id)}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


# -- certificates -------------------------------------------------------------


def test_a_csr_is_signed_recorded_and_let_in_at_the_broker(
    api: TestClient, authority: ca.Authority, recorded: Recorded
) -> None:
    body = sign(api, "plug-1")
    cert = x509.load_pem_x509_certificate(body["certificate"].encode())
    cert.verify_directly_issued_by(authority.certificate)
    assert format(cert.serial_number, "x") == body["serial"]
    assert body["ca_certificate"] == authority.certificate_pem().decode()
    # a broker client for the CN, with a password nobody was given
    assert "plug-1" in recorded.passwords
    listed = api.get("/api/v1/devices/plug-1/certificates", headers=ADMIN).json()
    assert [c["serial"] for c in listed["certificates"]] == [body["serial"]]
    kinds = api.get("/api/v1/devices/plug-1/credentials", headers=ADMIN).json()
    assert [c["kind"] for c in kinds["credentials"]] == ["certificate"]
    assert recorded.actions() == ["device_certificate.sign"]


def test_revocation_regenerates_the_crl_and_disables_the_client(
    api: TestClient, authority: ca.Authority, recorded: Recorded
) -> None:
    serial = sign(api, "plug-1")["serial"]
    path = f"/api/v1/devices/plug-1/certificates/{serial}"
    assert api.delete(path, headers=T2).status_code == 404
    assert api.delete(path, headers=ADMIN).status_code == 204
    crl = x509.load_pem_x509_crl(recorded.crls[-1])
    assert crl.is_signature_valid(authority.key.public_key())
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
    assert recorded.revoked == ["plug-1"]
    assert api.delete(path, headers=ADMIN).status_code == 404
    listed = api.get("/api/v1/devices/plug-1/certificates", headers=ADMIN).json()
    assert listed["certificates"][0]["revoked_at"] is not None
    assert recorded.actions()[-1] == "device_certificate.revoke"


def test_revoking_one_of_two_certificates_keeps_the_client(
    api: TestClient, recorded: Recorded
) -> None:
    first, _second = sign(api, "plug-1")["serial"], sign(api, "plug-1")["serial"]
    assert (
        api.delete(f"/api/v1/devices/plug-1/certificates/{first}", headers=ADMIN).status_code == 204
    )
    assert recorded.revoked == []


def test_a_csr_for_another_device_is_422(api: TestClient) -> None:
    response = api.post(
        "/api/v1/devices/plug-1/certificates", json={"csr": csr("plug-2")}, headers=ADMIN
    )
    assert response.status_code == 422
    assert "common name" in response.json()["detail"]
    garbage = api.post("/api/v1/devices/plug-1/certificates", json={"csr": "x"}, headers=ADMIN)
    assert garbage.status_code == 422


def test_a_huge_csr_is_refused(api: TestClient) -> None:
    path = "/api/v1/devices/plug-1/certificates"
    over_field = api.post(path, json={"csr": "A" * (ca.MAX_CSR_BYTES + 1)}, headers=ADMIN)
    assert over_field.status_code == 422
    over_body = api.post(path, json={"csr": "A" * (1024 * 1024)}, headers=ADMIN)
    assert over_body.status_code == 413


def test_another_tenants_device_is_404(api: TestClient) -> None:
    path = "/api/v1/devices/plug-1/certificates"
    assert api.post(path, json={"csr": csr("plug-1")}, headers=T2).status_code == 404
    assert api.get(path, headers=T2).status_code == 404


def test_the_ca_certificate_is_public(api: TestClient, authority: ca.Authority) -> None:
    response = api.get("/api/v1/ca.crt")
    assert response.status_code == 200
    assert response.content == authority.certificate_pem()
    assert response.headers["content-type"].startswith("application/x-pem-file")


def test_certificates_are_not_issued_as_secrets(api: TestClient) -> None:
    response = api.post(
        "/api/v1/devices/plug-1/credentials", json={"kind": "certificate"}, headers=ADMIN
    )
    assert response.status_code == 422


# -- pairing --------------------------------------------------------------------


def device_token(api: TestClient, device_id: str) -> dict[str, str]:
    response = api.post(
        f"/api/v1/devices/{device_id}/credentials", json={"kind": "http_token"}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return bearer(response.json()["secret"])


def new_code(api: TestClient, headers: dict[str, str], device_id: str | None = None) -> str:
    body = {} if device_id is None else {"device_id": device_id}
    response = api.post("/api/v1/pairing/codes", json=body, headers=headers)
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    assert pairing.well_formed(code)
    return code


def claim(api: TestClient, code: str, headers: dict[str, str] = T2) -> int:
    return api.post("/api/v1/pairing/claim", json={"code": code}, headers=headers).status_code


def test_a_device_is_claimed_once_into_the_claimers_tenant(
    api: TestClient, recorded: Recorded
) -> None:
    token = device_token(api, "plug-1")
    code = new_code(api, token)
    typed = f"{code[:4].lower()}-{code[4:]}"  # as a person types it
    response = api.post("/api/v1/pairing/claim", json={"code": typed}, headers=T2)
    assert response.status_code == 200, response.text
    assert response.json() == {"device_id": "plug-1", "tenant_id": "t2"}
    assert api.get("/api/v1/devices/plug-1", headers=T2).status_code == 200
    assert api.get("/api/v1/devices/plug-1", headers=ADMIN).status_code == 404
    # its credentials moved with it
    listed = api.get("/api/v1/devices/plug-1/credentials", headers=T2).json()["credentials"]
    assert [c["kind"] for c in listed] == ["http_token"]
    # single use, and a claimed device gets no new codes
    assert claim(api, code) == 404
    assert api.post("/api/v1/pairing/codes", json={}, headers=token).status_code == 404
    assert recorded.actions()[-3:] == ["pairing_code.create", "device.claim", "device.claim"]


def test_a_bench_tool_asks_as_platform_admin(api: TestClient) -> None:
    code = new_code(api, ADMIN, "plug-2")
    assert claim(api, code) == 200
    # a device asks for its own code only; an admin names the device
    token = device_token(api, "plug-1")
    other = api.post("/api/v1/pairing/codes", json={"device_id": "plug-2"}, headers=token)
    assert other.status_code == 403
    assert api.post("/api/v1/pairing/codes", json={}, headers=ADMIN).status_code == 422
    # t2's own admin is no platform admin
    assert (
        api.post("/api/v1/pairing/codes", json={"device_id": "plug-1"}, headers=T2).status_code
        == 403
    )


def test_a_code_expires(api: TestClient, recorded: Recorded) -> None:
    code = new_code(api, ADMIN, "plug-1")
    recorded.now_ms[0] += pairing.CODE_VALIDITY_MS
    assert claim(api, code) == 404
    assert api.get("/api/v1/devices/plug-1", headers=ADMIN).status_code == 200


def test_wrong_codes_are_throttled_after_five(api: TestClient, recorded: Recorded) -> None:
    code = new_code(api, ADMIN, "plug-1")
    for wrong in ("AAAAAAAA", "BBBBBBBB", "not-a-code", "CCCCCCCC", "DDDDDDDD"):
        assert claim(api, wrong) == 404
    throttled = api.post("/api/v1/pairing/claim", json={"code": code}, headers=T2)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    # another principal is not held back, and the window ends
    assert claim(api, "EEEEEEEE", bearer("key-t2")) == 404
    recorded.now_ms[0] += int(pairing.FAILED_CLAIMS_WINDOW_S * 1000) + 1
    code = new_code(api, ADMIN, "plug-1")
    assert claim(api, code) == 200


def test_a_device_of_another_tenant_cannot_be_claimed(
    api: TestClient, store: SqlStore, recorded: Recorded
) -> None:
    # no code for it through the API (it is not unclaimed) ...
    response = api.post("/api/v1/pairing/codes", json={"device_id": "plug-t3"}, headers=ADMIN)
    assert response.status_code == 404
    # ... and a code that exists anyway does not move it
    code = pairing.new_code("plug-t3", NOW_MS)
    store.add_pairing_code(code.code_hash, "plug-t3", code.created_ms, code.expires_ms)
    assert claim(api, code.code) == 409
    assert store.get_device("plug-t3", tenant_id="t3") is not None
    assert store.get_device("plug-t3", tenant_id="t2") is None
    assert recorded.events[-1].summary == {"outcome": "owned"}
