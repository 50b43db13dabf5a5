"""The laptop verifies the hub's certificate and sends nothing to a hub it cannot verify (R33).

A real HTTPS server runs in a thread on 127.0.0.1 with a certificate made here (self-signed,
expired, or for another name). It counts the TCP connections it accepts and records every
HTTP request that gets through the handshake. The laptop's own transport (`HttpTransport`,
Python's default TLS context), `flask sync connect`, the sync page and a sync run are pointed
at it: each connects, refuses the certificate, sends no request, and says so.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import PASSWORD
from workshops.auth import services as auth_services
from workshops.extensions import db
from workshops.families.services import FamilyData, GuardianData, create_family
from workshops.sync import client as sync_client
from workshops.sync import queries
from workshops.sync.device_services import sync_state
from workshops.sync.transport import CertificateRefused, HttpTransport, TransportError

from .conftest import first_structure

NOW = datetime.datetime.now(datetime.UTC)


def make_certificate(folder: Path, *, names: tuple[str, ...] = ("localhost",),
                     addresses: tuple[str, ...] = ("127.0.0.1",), expired: bool = False) -> tuple[Path, Path]:
    """A self-signed certificate and its key, as PEM files: (certificate, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    start, end = (NOW - datetime.timedelta(days=30), NOW - datetime.timedelta(days=1)) if expired else \
        (NOW - datetime.timedelta(days=1), NOW + datetime.timedelta(days=30))
    alternative = [x509.DNSName(name) for name in names] + \
        [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    stem = uuid.uuid4().hex
    certificate_path, key_path = folder / f"certificate-{stem}.pem", folder / f"key-{stem}.pem"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return certificate_path, key_path


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append((self.command, self.path, len(body)))
        answer = json.dumps({"error": "bad_code"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:  # the test reads `requests`, not a log
        pass


class FakeHub(HTTPServer):
    """HTTPS on 127.0.0.1: `connections` counts TCP connections, `requests` every request
    (method, path, body length) that came through a completed handshake."""

    def __init__(self, certificate: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate, key)
        self.certificate_path = certificate
        self.connections = 0
        self.requests: list[tuple[str, str, int]] = []

    def get_request(self):
        raw, address = self.socket.accept()
        self.connections += 1
        raw.settimeout(5)
        return self.context.wrap_socket(raw, server_side=True), address  # a refused handshake raises here

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def serve(tmp_path):
    """serve(**certificate options) -> a FakeHub running in a thread, with that certificate."""
    servers = []

    def start(**options) -> FakeHub:
        server = FakeHub(*make_certificate(tmp_path, **options))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


ENROLMENT = {"code": "ABCD-EFGH", "verify_key": "00" * 32, "app_version": "test", "schema_version": 1}
BAD_CERTIFICATES = {
    "self-signed": ({}, "self-signed certificate"),
    "expired": ({"expired": True}, "certificate has expired"),
    "another name": ({"names": ("hub.example.org",), "addresses": ()}, "mismatch"),
}


@pytest.mark.parametrize("kind", BAD_CERTIFICATES)
def test_the_transport_refuses_a_certificate_it_cannot_verify_and_sends_nothing(serve, monkeypatch, kind):
    options, openssl_words = BAD_CERTIFICATES[kind]
    server = serve(**options)
    if kind != "self-signed":
        # The laptop trusts this certificate as a CA (as if a public CA had issued it): what is
        # refused is its dates or its name, not its issuer.
        monkeypatch.setenv("SSL_CERT_FILE", str(server.certificate_path))
    with pytest.raises(CertificateRefused) as refused:
        HttpTransport(server.url, "secret-device-token").post("/api/sync/enrol", ENROLMENT)
    assert isinstance(refused.value, TransportError), "callers that know TransportError still stop"
    assert openssl_words in refused.value.reason
    assert "certificate was refused" in str(refused.value) and "nothing was sent" in str(refused.value)
    assert server.connections >= 1, "the laptop did reach the server"
    assert server.requests == [], "no request, no token, no body went through"


def test_the_same_server_with_a_trusted_certificate_receives_the_request(serve, monkeypatch):
    """The control: once the certificate is trusted, the same request goes through, so what
    stops it above is the certificate."""
    server = serve()
    monkeypatch.setenv("SSL_CERT_FILE", str(server.certificate_path))
    status, answer = HttpTransport(server.url, "secret-device-token").post("/api/sync/enrol", ENROLMENT)
    assert (status, answer) == (400, {"error": "bad_code"})
    assert len(server.requests) == 1 and server.requests[0][:2] == ("POST", "/api/sync/enrol")
    assert server.requests[0][2] > 0


def test_a_hub_that_cannot_be_reached_is_not_called_a_certificate_problem(serve):
    server = serve()
    port = server.server_address[1]
    server.shutdown()
    server.server_close()  # nothing listens on that port any more
    with pytest.raises(TransportError) as failed:
        HttpTransport(f"https://127.0.0.1:{port}", "token", timeout=5).post("/api/sync/hello", {})
    assert not isinstance(failed.value, CertificateRefused)


@pytest.fixture
def laptop(make_laptop):
    return make_laptop("laptop")


def test_flask_sync_connect_refuses_the_hub_and_stays_unconnected(laptop, serve):
    server = serve()
    result = laptop.test_cli_runner().invoke(args=["sync", "connect", server.url, "ABCD-EFGH"])
    assert result.exit_code != 0 and "Error: The hub" in result.output, "refused, with a sentence"
    assert server.connections >= 1 and server.requests == []
    with laptop.app_context():
        assert sync_state(db.session).device_id is None, "nothing was saved"
        db.session.rollback()


def test_the_sync_page_refuses_the_hub_and_says_so(laptop, serve):
    server = serve()
    with laptop.app_context():
        auth_services.create_user(db.session, auth_services.NewUser(
            username="camille", display_name="Camille", password=PASSWORD, role="conseiller",
            structure_id=first_structure(laptop).id))
        db.session.commit()
    client = laptop.test_client()
    assert client.post("/login", data={"username": "camille", "password": PASSWORD}).status_code == 302
    page = client.post("/sync/connect", data={"hub_url": server.url, "code": "ABCD-EFGH"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "Connect to the hub" in html
    assert "The hub could not be reached" in html or "certificate" in html
    assert server.connections >= 1 and server.requests == []


def _connected_laptop_with_work(laptop, url: str) -> None:
    """A laptop connected to `url` with a household not yet sent."""
    with laptop.app_context():
        structure = first_structure(laptop)
        user = auth_services.create_user(db.session, auth_services.NewUser(
            username="camille", display_name="Camille", password=PASSWORD, role="conseiller",
            structure_id=structure.id))
        state = sync_state(db.session)
        state.device_id, state.structure_id, state.hub_url = uuid.uuid4(), structure.id, url
        state.token = "t" * 43
        guardian = GuardianData(first_name="Élodie", last_name="Martin")
        create_family(db.session, FamilyData(guardians=(guardian,), structure_id=structure.id,
                                             notice_version="2026-01"), user)
        db.session.commit()


def _waiting(laptop) -> int:
    with laptop.app_context():
        status = queries.get_laptop_status(db.session)
        db.session.rollback()
        return status.pending_changes + status.unacked_batches


def test_a_sync_run_against_a_bad_certificate_records_the_failure_and_keeps_the_work(laptop, serve):
    server = serve(expired=True)
    _connected_laptop_with_work(laptop, server.url)
    before = _waiting(laptop)
    assert before > 0
    with laptop.app_context():
        result = sync_client.run(db.session, HttpTransport(server.url, "t" * 43, timeout=5))
        assert not result.ok and result.sent == 0
        state = sync_state(db.session)
        assert state.last_failure_dt is not None and state.last_success_dt is None
        error = state.last_error
        assert error in ("network", "certificate")
        db.session.rollback()
    assert server.connections >= 1 and server.requests == []
    assert _waiting(laptop) == before, "the work waits for the next sync"
    status = laptop.test_cli_runner().invoke(args=["sync", "status"])
    shown = next(line for line in status.output.splitlines() if line.startswith("Last error:"))
    assert shown.startswith(f"Last error: {error}: the hub"), "the code and its plain words"


def test_the_laptop_says_in_plain_words_that_the_certificate_was_refused(laptop, make_laptop, serve):
    server = serve(expired=True)
    _connected_laptop_with_work(laptop, server.url)
    run = laptop.test_cli_runner().invoke(args=["sync", "run"])
    assert server.requests == []
    assert "certificate" in run.output
    status = laptop.test_cli_runner().invoke(args=["sync", "status"])
    assert "certificate" in status.output
    other = make_laptop("new")
    connect = other.test_cli_runner().invoke(args=["sync", "connect", server.url, "ABCD-EFGH"])
    assert "certificate" in connect.output
    with other.app_context():
        auth_services.create_user(db.session, auth_services.NewUser(
            username="camille", display_name="Camille", password=PASSWORD, role="conseiller"))
        db.session.commit()
    client = other.test_client()
    client.post("/login", data={"username": "camille", "password": PASSWORD})
    page = client.post("/sync/connect", data={"hub_url": server.url, "code": "ABCD-EFGH"})
    assert "certificate" in page.get_data(as_text=True)
    assert server.requests == []
