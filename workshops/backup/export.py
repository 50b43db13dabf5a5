"""Backups that leave the computer (a USB stick) are encrypted with a passphrase.

Format: a header (`MAGIC`, the Argon2id cost, its salt, the stream header), then chunks of at
most 1 MiB, each `length (4 bytes) + XChaCha20-Poly1305 secretstream chunk` (libsodium through
PyNaCl). The header is authenticated with the first chunk, the last chunk carries the FINAL
tag: a changed byte, a truncated file or a wrong passphrase are all refused before anything is
written where the caller wants the plain file.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import nacl.exceptions
import nacl.pwhash
import nacl.utils
from nacl import bindings

from workshops.backup import files

MAGIC = b"workshops-backup-1\n"
MIN_PASSPHRASE = 12
CHUNK = 1024 * 1024
# Argon2id cost: libsodium's "moderate" level (256 MiB, about a second on a laptop).
OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_MODERATE
# Refused on reading: a header asking for more would let a crafted file exhaust the memory.
_MAX_MEMLIMIT = 1024 * 1024 * 1024
_MAX_OPSLIMIT = 20
_COST = struct.Struct(">QQ")
_LENGTH = struct.Struct(">I")
_SALT = nacl.pwhash.argon2id.SALTBYTES
_STREAM_HEADER = bindings.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_ABYTES = bindings.crypto_secretstream_xchacha20poly1305_ABYTES
_FINAL = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL


class ExportError(Exception):
    """An encrypted backup cannot be written or opened; the message says why in plain words."""


def is_encrypted(path: Path) -> bool:
    """True when the file starts like an encrypted backup."""
    with open(path, "rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def check_passphrase(passphrase: str) -> None:
    """Raises ExportError when the passphrase is too short to protect families' data."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ExportError(f"The passphrase needs at least {MIN_PASSPHRASE} characters.")


def _key(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return nacl.pwhash.argon2id.kdf(bindings.crypto_secretstream_xchacha20poly1305_KEYBYTES,
                                    passphrase.encode("utf-8"), salt,
                                    opslimit=opslimit, memlimit=memlimit)


def encrypt_file(plain: Path, out: Path, passphrase: str, *, opslimit: int = OPSLIMIT,
                 memlimit: int = MEMLIMIT) -> Path:
    """Encrypt `plain` into `out` (written as `out.partial`, fsynced, renamed). Raises
    ExportError on a short passphrase, OSError when `out` cannot be written."""
    check_passphrase(passphrase)
    salt = nacl.utils.random(_SALT)
    key = _key(passphrase, salt, opslimit, memlimit)
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    stream_header = bindings.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    header = MAGIC + _COST.pack(opslimit, memlimit) + salt + stream_header
    partial = out.with_name(out.name + files.PARTIAL)
    try:
        with open(plain, "rb") as source, open(partial, "wb") as target:
            target.write(header)
            ad: bytes | None = header
            chunk = source.read(CHUNK)
            while True:
                following = source.read(CHUNK)
                tag = 0 if following else _FINAL
                sealed = bindings.crypto_secretstream_xchacha20poly1305_push(state, chunk, ad, tag)
                target.write(_LENGTH.pack(len(sealed)) + sealed)
                if not following:
                    break
                chunk, ad = following, None
            target.flush()
            os.fsync(target.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return files.publish(partial, out)


def decrypt_file(sealed: Path, out: Path, passphrase: str) -> Path:
    """Decrypt an exported backup into `out` (fsynced). Raises ExportError on a wrong
    passphrase, a damaged or truncated file, or a file that is not an exported backup; `out`
    is removed then."""
    try:
        with open(sealed, "rb") as source, open(out, "wb") as target:
            _decrypt(source, target, passphrase)
            target.flush()
            os.fsync(target.fileno())
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


def _decrypt(source, target, passphrase: str) -> None:
    header = source.read(len(MAGIC) + _COST.size + _SALT + _STREAM_HEADER)
    if len(header) < len(MAGIC) + _COST.size + _SALT + _STREAM_HEADER or not header.startswith(MAGIC):
        raise ExportError("This file is not an encrypted backup of this application.")
    opslimit, memlimit = _COST.unpack_from(header, len(MAGIC))
    if opslimit > _MAX_OPSLIMIT or memlimit > _MAX_MEMLIMIT:
        raise ExportError("This file asks for an unreasonable key cost: refused.")
    salt_at = len(MAGIC) + _COST.size
    key = _key(passphrase, header[salt_at:salt_at + _SALT], opslimit, memlimit)
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    bindings.crypto_secretstream_xchacha20poly1305_init_pull(state, header[salt_at + _SALT:], key)
    ad: bytes | None = header
    while True:
        length_bytes = source.read(_LENGTH.size)
        if len(length_bytes) < _LENGTH.size:
            raise ExportError("The file is incomplete (cut short): it cannot be restored.")
        length = _LENGTH.unpack(length_bytes)[0]
        if length < _ABYTES or length > CHUNK + _ABYTES:
            raise ExportError("The file is damaged: it cannot be restored.")
        try:
            plain, tag = bindings.crypto_secretstream_xchacha20poly1305_pull(state, source.read(length), ad)
        except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError) as error:
            raise ExportError("Wrong passphrase, or the file is damaged: nothing was restored.") from error
        target.write(plain)
        if tag == _FINAL:
            if source.read(1):
                raise ExportError("The file is damaged (data after its end): it cannot be restored.")
            return
        ad = None
