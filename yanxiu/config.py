"""Configuration read from the environment (YANXIU_*), with safe defaults."""
import os
import secrets
from pathlib import Path


def _instance_secret(instance_path: Path, name: str) -> str:
    """Read a random secret kept under instance/, creating it on first use."""
    path = instance_path / name
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def load_config(instance_path: str) -> dict:
    """Build the Flask config dict from YANXIU_* environment variables."""
    instance = Path(instance_path)
    env = os.environ
    database_url = env.get("YANXIU_DATABASE_URL") or f"sqlite:///{instance / 'yanxiu.db'}"
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": env.get("YANXIU_SECRET_KEY") or _instance_secret(instance, "secret_key"),
        # Encrypts personal data at rest; losing it loses those values, so back it up.
        "DATA_KEY": env.get("YANXIU_DATA_KEY") or _instance_secret(instance, "data_key"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("YANXIU_SECURE_COOKIES", "0") == "1",
        "SESSION_COOKIE_NAME": "yanxiu_session",
        # Idle and absolute session lifetimes, in minutes (SECURITY.md row 10).
        "SESSION_IDLE_MINUTES": int(env.get("YANXIU_SESSION_IDLE_MINUTES", "30")),
        "SESSION_ABSOLUTE_MINUTES": int(env.get("YANXIU_SESSION_ABSOLUTE_MINUTES", "720")),
        # Every account with an admin binding must set up two-factor login (SECURITY.md row 8).
        "REQUIRE_ADMIN_2FA": env.get("YANXIU_REQUIRE_ADMIN_2FA", "0") == "1",
        # Number of reverse proxies in front of the app whose X-Forwarded-For is trusted.
        "TRUSTED_PROXIES": int(env.get("YANXIU_TRUSTED_PROXIES", "0")),
        # argon2id cost; tests lower it, production keeps the library's defaults.
        "ARGON2_TIME_COST": int(env.get("YANXIU_ARGON2_TIME_COST", "3")),
        "ARGON2_MEMORY_COST": int(env.get("YANXIU_ARGON2_MEMORY_COST", "65536")),
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
        "COMPRESS_MIMETYPES": [
            "text/html", "text/css", "application/javascript", "text/javascript",
            "application/json", "text/csv", "image/svg+xml",
        ],
        "COMPRESS_ALGORITHM": ["gzip"],
        # Static files are streamed; gzip them too (old browsers lack br/zstd).
        "COMPRESS_ALGORITHM_STREAMING": ["gzip"],
        "COMPRESS_MIN_SIZE": 300,
    }
