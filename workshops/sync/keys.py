"""Keys of USB bundles (PyNaCl): the hub opens bundles sealed to its X25519 key and signs its
answers with Ed25519; each laptop signs its bundles with its own Ed25519 key, whose public half
the hub receives at enrolment. Keys are kept as hex text."""

from __future__ import annotations

from nacl.encoding import HexEncoder
from nacl.public import PrivateKey
from nacl.signing import SigningKey


def new_hub_keys() -> dict[str, str]:
    """{"box_key": X25519 private key, "signing_key": Ed25519 private key}, as hex."""
    return {"box_key": PrivateKey.generate().encode(HexEncoder).decode(),
            "signing_key": SigningKey.generate().encode(HexEncoder).decode()}


def new_signing_key() -> str:
    return SigningKey.generate().encode(HexEncoder).decode()


def box_public(box_key: str) -> str:
    """The public half of an X25519 private key (hex)."""
    return PrivateKey(box_key, HexEncoder).public_key.encode(HexEncoder).decode()


def verify_key(signing_key: str) -> str:
    """The public half of an Ed25519 signing key (hex)."""
    return SigningKey(signing_key, HexEncoder).verify_key.encode(HexEncoder).decode()
