"""Response hardening: security headers, caching rules, content-hashed static URLs."""
import hashlib
from pathlib import Path

from flask import request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'")

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

IMMUTABLE = "public, max-age=31536000, immutable"


def init_app(app):
    """Add headers to every response and a content hash to every static URL."""
    static_dir = Path(app.static_folder)
    hashes: dict[str, str] = {}

    def static_hash(filename: str) -> str:
        if filename not in hashes:
            path = static_dir / filename
            hashes[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else ""
        return hashes[filename]

    @app.url_defaults
    def _hash_static(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            values["v"] = static_hash(values["filename"])

    @app.after_request
    def _harden(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint == "static":
            if request.args.get("v"):
                response.headers["Cache-Control"] = IMMUTABLE
        else:
            response.headers.add("Vary", "HX-Request")
            # Pages carry personal data; no browser or proxy may keep them.
            response.headers["Cache-Control"] = "no-store"
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
