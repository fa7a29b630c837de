"""Provider keys at rest: MultiFernet, so keys can be rotated (the first encrypts, all decrypt).

The keys come from ASSISTANTS_SECRET_KEYS, or from instance/secret_keys, generated on first run
so that a newcomer needs to set nothing."""
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

EXTENSION = "credential_cipher"


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


class SecretKeys:
    """The Flask extension: each app's CredentialCipher, from its configured keys."""

    def init_app(self, app) -> None:
        keys = parse_keys(app.config.get("ASSISTANTS_SECRET_KEYS")) or instance_secret_keys(app.instance_path)
        app.extensions[EXTENSION] = CredentialCipher(keys)

    @staticmethod
    def cipher() -> CredentialCipher:
        return current_app.extensions[EXTENSION]


def instance_secret_keys(instance_path: str) -> list[str]:
    """The keys in instance/secret_keys, generated (mode 0600) when the file does not exist."""
    path = os.path.join(instance_path, "secret_keys")
    if not os.path.exists(path):
        # Written aside, then linked into place: concurrent workers never read half a file.
        temporary = f"{path}.{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(generate_key() + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    with open(path) as f:
        return parse_keys(f.read().replace("\n", ","))
