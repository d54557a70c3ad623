"""Personal data at rest: AES-GCM encryption, and a keyed hash for uniqueness look-ups.

A database dump shows neither 身份证号 nor 手机号 in clear; equality searches (one
approved teacher per 身份证号) use `blind_index`, which needs the key to compute.
"""
import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class PersonalDataCipher:
    """Encrypts short strings with a key derived from the app's data key."""

    def __init__(self, data_key: str):
        root = hashlib.sha256(data_key.encode("utf-8")).digest()
        self._aead = AESGCM(hmac.new(root, b"yanxiu-encrypt", hashlib.sha256).digest())
        self._index_key = hmac.new(root, b"yanxiu-index", hashlib.sha256).digest()

    def encrypt(self, value: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), None)
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str) -> str:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
        return self._aead.decrypt(raw[:12], raw[12:], None).decode("utf-8")

    def blind_index(self, value: str) -> str:
        """The same value always gives the same index; without the key it reveals nothing."""
        return hmac.new(self._index_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


# Like the database proxy: one cipher per process, set up by the app factory from DATA_KEY.
_cipher: PersonalDataCipher | None = None


def configure_cipher(data_key: str) -> None:
    global _cipher
    _cipher = PersonalDataCipher(data_key)


def personal_data_cipher() -> PersonalDataCipher:
    """The cipher of the running app (see `configure_cipher`)."""
    if _cipher is None:
        raise RuntimeError("personal data key not configured: create the app first")
    return _cipher
