"""USB bundles: the online push and its answer, carried on a stick (sync-anchors C8).

A bundle is bytes: a zip sealed (PyNaCl `SealedBox`) to its recipient's X25519 key, so only
the recipient can read it. Inside, `manifest.json` lists every other member with its SHA-256
and `manifest.sig` is the Ed25519 signature of the manifest's bytes.

- A push bundle (laptop -> hub) holds `batches/<seq>.json`, the exact bodies of the online
  push, signed with the laptop's key (the hub has its public half, `Device.verify_key`) and
  sealed to the hub's box key.
- An answer bundle (hub -> laptop) holds `answers.json` (the hub's answer to each batch) and
  `pages/<n>.json` (the pull pages since the laptop's cursor), signed with the hub's key
  (`SyncState.hub_verify_key`) and sealed to the laptop's X25519 key, derived from its Ed25519
  signing key.

Pure: no database. Every refusal raises `BundleRefused` with a stable reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nacl.encoding import HexEncoder
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

FORMAT = 1
PUSH, ANSWER = "push", "answer"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
# A bundle opened on the hub is read in memory: refuse absurd members (zip bombs).
MAX_MEMBERS = 100_000
MAX_UNPACKED = 1 << 31
# Stable reasons of refusal.
REASONS = ("unreadable", "bad_signature", "tampered", "wrong_hub", "unknown_device", "revoked")
_EPOCH_ZIP = (1980, 1, 1, 0, 0, 0)


class BundleRefused(Exception):
    """A bundle that is not opened; `reason` is one of REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PushBundle:
    device_id: uuid.UUID
    hub_id: uuid.UUID
    hub_epoch: uuid.UUID | None
    schema_version: int
    cursor: int
    batches: list[tuple[int, str]]
    manifest: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class AnswerBundle:
    device_id: uuid.UUID
    hub_id: uuid.UUID
    hub_epoch: uuid.UUID | None
    answers: list[dict[str, Any]]
    pages: list[dict[str, Any]]
    manifest: dict[str, Any] = field(repr=False)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text(value: uuid.UUID | str | None) -> str | None:
    return None if value is None else str(value)


# ---------- Sealing ----------

def _signed_zip(manifest: dict[str, Any], members: dict[str, bytes], signing_key_hex: str) -> bytes:
    manifest = {**manifest, "format": FORMAT, "created_ms": time.time_ns() // 1_000_000,
                "files": {name: _sha(data) for name, data in members.items()}}
    manifest_bytes = canonical(manifest).encode("utf-8")
    signature = SigningKey(signing_key_hex, HexEncoder).sign(manifest_bytes).signature
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        everything = [(MANIFEST, manifest_bytes), (SIGNATURE, signature.hex().encode()), *members.items()]
        for name, data in everything:
            archive.writestr(zipfile.ZipInfo(name, date_time=_EPOCH_ZIP), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def seal_push(batches: list[tuple[int, str]], device_id: uuid.UUID | str, hub_id: uuid.UUID | str,
              signing_key_hex: str, hub_box_pub_hex: str, *, cursor: int = 0,
              hub_epoch: uuid.UUID | str | None = None, schema_version: int = 1) -> bytes:
    """A push bundle of frozen batches (seq, exact body text), for the hub whose box key is given."""
    batches = sorted(batches)
    members = {f"batches/{seq}.json": body.encode("utf-8") for seq, body in batches}
    seqs = [seq for seq, _body in batches]
    manifest = {"kind": PUSH, "device_id": _text(device_id), "hub_id": _text(hub_id),
                "hub_epoch": _text(hub_epoch), "schema_version": schema_version, "cursor": cursor,
                "batches": seqs, "first_seq": seqs[0] if seqs else None,
                "last_seq": seqs[-1] if seqs else None}
    archive = _signed_zip(manifest, members, signing_key_hex)
    return SealedBox(PublicKey(hub_box_pub_hex, HexEncoder)).encrypt(archive)


def device_box_public(verify_key_hex: str) -> str:
    """The X25519 public key (hex) of a laptop, from its Ed25519 verify key."""
    return VerifyKey(verify_key_hex, HexEncoder).to_curve25519_public_key().encode(HexEncoder).decode()


def seal_answer(answers: list[dict[str, Any]], pages: list[dict[str, Any]], device_id: uuid.UUID | str,
                hub_id: uuid.UUID | str, hub_signing_key_hex: str, device_verify_key_hex: str, *,
                hub_epoch: uuid.UUID | str | None = None, schema_version: int = 1) -> bytes:
    """The hub's answer bundle for one laptop: its batches' answers and the pull pages."""
    members = {"answers.json": canonical(answers).encode("utf-8")}
    members |= {f"pages/{number}.json": canonical(page).encode("utf-8")
                for number, page in enumerate(pages, start=1)}
    seqs = [answer["batch_seq"] for answer in answers]
    manifest = {"kind": ANSWER, "device_id": _text(device_id), "hub_id": _text(hub_id),
                "hub_epoch": _text(hub_epoch), "schema_version": schema_version, "batches": seqs,
                "first_seq": min(seqs) if seqs else None, "last_seq": max(seqs) if seqs else None,
                "pages": len(pages)}
    archive = _signed_zip(manifest, members, hub_signing_key_hex)
    return SealedBox(PublicKey(device_box_public(device_verify_key_hex), HexEncoder)).encrypt(archive)


# ---------- Opening ----------

def _unseal(data: bytes, private_key: PrivateKey) -> dict[str, bytes]:
    """The zip's members by name; BundleRefused("unreadable") when it cannot be read."""
    try:
        archive_bytes = SealedBox(private_key).decrypt(bytes(data))
    except (CryptoError, ValueError, TypeError):
        raise BundleRefused("unreadable") from None
    try:
        with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS or sum(info.file_size for info in infos) > MAX_UNPACKED:
                raise BundleRefused("unreadable")
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                raise BundleRefused("tampered")
            return {info.filename: archive.read(info) for info in infos}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError, ValueError):
        raise BundleRefused("unreadable") from None


def _manifest(members: dict[str, bytes], kind: str) -> tuple[dict[str, Any], bytes, bytes]:
    """The manifest (not verified yet), its bytes and its signature."""
    if MANIFEST not in members or SIGNATURE not in members:
        raise BundleRefused("unreadable")
    raw = members[MANIFEST]
    try:
        manifest = json.loads(raw.decode("utf-8"))
        signature = bytes.fromhex(members[SIGNATURE].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise BundleRefused("unreadable") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("kind") != kind:
        raise BundleRefused("unreadable")
    return manifest, raw, signature


def _verify(raw: bytes, signature: bytes, verify_key_hex: str) -> None:
    try:
        VerifyKey(verify_key_hex, HexEncoder).verify(raw, signature)
    except (BadSignatureError, ValueError, TypeError):
        raise BundleRefused("bad_signature") from None


def _check_members(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != set(members) - {MANIFEST, SIGNATURE}:
        raise BundleRefused("tampered")
    for name, digest in files.items():
        if _sha(members[name]) != digest:
            raise BundleRefused("tampered")


def _uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise BundleRefused("unreadable") from None


def _json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BundleRefused("unreadable") from None


def open_push(data: bytes, hub_box_key_hex: str, verify_key_lookup: Callable[[uuid.UUID], str | None],
              hub_id: uuid.UUID | str | None = None) -> PushBundle:
    """Open a push bundle on the hub. `verify_key_lookup(device_id)` gives the device's verify
    key, None for a device unknown here, or raises BundleRefused("revoked")."""
    members = _unseal(data, PrivateKey(hub_box_key_hex, HexEncoder))
    manifest, raw, signature = _manifest(members, PUSH)
    if hub_id is not None and manifest.get("hub_id") != str(hub_id):
        raise BundleRefused("wrong_hub")
    device_id = _uuid(manifest.get("device_id"))
    verify_key = verify_key_lookup(device_id)
    if not verify_key:
        raise BundleRefused("unknown_device")
    _verify(raw, signature, verify_key)
    _check_members(manifest, members)
    seqs = manifest.get("batches")
    if not isinstance(seqs, list) or any(not isinstance(seq, int) for seq in seqs) \
            or {f"batches/{seq}.json" for seq in seqs} != set(manifest["files"]):
        raise BundleRefused("tampered")
    batches = [(seq, members[f"batches/{seq}.json"].decode("utf-8")) for seq in sorted(seqs)]
    epoch = manifest.get("hub_epoch")
    return PushBundle(device_id=device_id, hub_id=_uuid(manifest.get("hub_id")),
                      hub_epoch=_uuid(epoch) if epoch else None,
                      schema_version=int(manifest.get("schema_version") or 0),
                      cursor=int(manifest.get("cursor") or 0), batches=batches, manifest=manifest)


def open_answer(data: bytes, signing_key_hex: str, hub_verify_key_hex: str, *,
                device_id: uuid.UUID | str | None = None,
                hub_id: uuid.UUID | str | None = None) -> AnswerBundle:
    """Open the hub's answer bundle on the laptop whose Ed25519 signing key is given."""
    private = SigningKey(signing_key_hex, HexEncoder).to_curve25519_private_key()
    members = _unseal(data, private)
    manifest, raw, signature = _manifest(members, ANSWER)
    _verify(raw, signature, hub_verify_key_hex)
    if hub_id is not None and manifest.get("hub_id") != str(hub_id):
        raise BundleRefused("wrong_hub")
    if device_id is not None and manifest.get("device_id") != str(device_id):
        raise BundleRefused("unknown_device")
    _check_members(manifest, members)
    count = manifest.get("pages")
    if not isinstance(count, int) or "answers.json" not in members \
            or {f"pages/{n}.json" for n in range(1, count + 1)} | {"answers.json"} != set(manifest["files"]):
        raise BundleRefused("tampered")
    answers = _json(members["answers.json"])
    pages = [_json(members[f"pages/{n}.json"]) for n in range(1, count + 1)]
    if not isinstance(answers, list) or not all(isinstance(page, dict) for page in pages):
        raise BundleRefused("unreadable")
    epoch = manifest.get("hub_epoch")
    return AnswerBundle(device_id=_uuid(manifest.get("device_id")), hub_id=_uuid(manifest.get("hub_id")),
                        hub_epoch=_uuid(epoch) if epoch else None, answers=answers, pages=pages,
                        manifest=manifest)
