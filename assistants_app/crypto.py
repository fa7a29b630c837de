"""Provider keys at rest: MultiFernet, so keys can be rotated (the first encrypts, all decrypt)."""
from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class CredentialUndecryptable(Exception):
    """The stored key was encrypted with a key that is no longer configured."""


class CredentialCipher:
    def __init__(self, keys: list[str]):
        if not keys:
            raise RuntimeError("ASSISTANTS_SECRET_KEYS holds no key")
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except ValueError:
            raise RuntimeError(
                "ASSISTANTS_SECRET_KEYS must be comma-separated Fernet keys "
                "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
            ) from None

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(ciphertext)).decode()
        except InvalidToken:
            raise CredentialUndecryptable() from None

    def rotate(self, ciphertext: bytes) -> bytes:
        """Re-encrypt under the first key."""
        try:
            return self._fernet.rotate(bytes(ciphertext))
        except InvalidToken:
            raise CredentialUndecryptable() from None


def parse_keys(value: str | None) -> list[str]:
    return [key.strip() for key in (value or "").split(",") if key.strip()]


def generate_key() -> str:
    return Fernet.generate_key().decode()
