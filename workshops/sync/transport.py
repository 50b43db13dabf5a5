"""How a laptop talks to its hub: JSON over HTTP with the device token.

`HttpTransport` uses the standard library only. An HTTP error status with a JSON body is an
answer (the caller reads its `error` code); a hub that cannot be reached, or that answers
something other than JSON, raises `TransportError`; a hub whose certificate does not verify
raises `CertificateRefused` (a `TransportError`), before anything is sent. Certificates are
checked by Python's default context (the system's CAs, the host name, the dates), never
turned off. Bodies are never logged: they hold
personal data. `AppTransport` calls a hub app in the same process through its test client
(tests and benches), going through the hub's real views.
"""

from __future__ import annotations

import gzip
import http.client
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Protocol

from flask import Flask


class TransportError(Exception):
    """The hub could not be reached, or did not answer JSON."""


class CertificateRefused(TransportError):
    """The TLS handshake failed on the hub's certificate: nothing was sent. `reason` is
    OpenSSL's own words ("certificate has expired", "self-signed certificate"...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the hub's certificate was refused ({reason}), so nothing was sent: the "
                         "certificate expired, is self-signed or was made for another address, or "
                         "someone is intercepting the connection")
        self.reason = reason


def _certificate_problem(error: BaseException) -> ssl.SSLCertVerificationError | None:
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    return reason if isinstance(reason, ssl.SSLCertVerificationError) else None


class Transport(Protocol):
    def post(self, path: str, payload: dict) -> tuple[int, dict]: ...

    def get(self, path: str, params: dict) -> tuple[int, dict]: ...


def _decode(raw: bytes, encoding: str | None) -> dict:
    if encoding == "gzip":
        raw = gzip.decompress(raw)
    answer = json.loads(raw.decode("utf-8"))
    if not isinstance(answer, dict):
        raise ValueError("answer is not a JSON object")
    return answer


class HttpTransport:
    """JSON over HTTP(S) to `hub_url` (e.g. "https://hub.example.org")."""

    def __init__(self, hub_url: str, token: str, timeout: float = 30) -> None:
        if urllib.parse.urlsplit(hub_url).scheme not in ("http", "https"):
            raise ValueError("the hub's address must start with http:// or https://")
        self.hub_url = hub_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Device {self.token}", "Accept": "application/json",
                "Accept-Encoding": "gzip", "Content-Type": "application/json"}

    def post(self, path: str, payload: dict) -> tuple[int, dict]:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.hub_url + path, data=data, method="POST",  # noqa: S310
                                         headers=self._headers())
        return self._send(request)

    def get(self, path: str, params: dict) -> tuple[int, dict]:
        query = urllib.parse.urlencode(params)
        url = f"{self.hub_url}{path}?{query}" if query else self.hub_url + path
        return self._send(urllib.request.Request(url, method="GET", headers=self._headers()))  # noqa: S310

    def _send(self, request: urllib.request.Request) -> tuple[int, dict]:
        try:
            # The scheme was checked in __init__ (http or https only).
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, _decode(response.read(), response.headers.get("Content-Encoding"))
        except urllib.error.HTTPError as error:
            with error:
                try:
                    return error.code, _decode(error.read(), error.headers.get("Content-Encoding"))
                except (ValueError, OSError, EOFError) as bad:
                    raise TransportError(f"HTTP {error.code} without a JSON answer") from bad
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError, EOFError) as error:
            refused = _certificate_problem(error)
            if refused is not None:
                raise CertificateRefused(refused.verify_message or str(refused)) from error
            raise TransportError(type(error).__name__) from error


class AppTransport:
    """Calls a hub Flask app in this process through its test client."""

    def __init__(self, hub_app: Flask, token: str) -> None:
        self.hub_app = hub_app
        self.token = token
        self.client = hub_app.test_client()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Device {self.token}"}

    def post(self, path: str, payload: dict) -> tuple[int, dict]:
        response = self.client.post(path, json=payload, headers=self._headers())
        return self._answer(response)

    def get(self, path: str, params: dict) -> tuple[int, dict]:
        response = self.client.get(path, query_string=params, headers=self._headers())
        return self._answer(response)

    @staticmethod
    def _answer(response) -> tuple[int, dict]:
        try:
            answer = response.get_json(silent=True)
        finally:
            response.close()
        if not isinstance(answer, dict):
            raise TransportError(f"HTTP {response.status_code} without a JSON answer")
        return response.status_code, answer
