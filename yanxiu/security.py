"""Response hardening: security headers, caching rules, content-hashed static URLs; and
input no database stores (U+0000) refused before any view."""
import hashlib
from pathlib import Path

from flask import jsonify, render_template, request

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
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NUL_MESSAGE = "提交的内容含有无法保存的控制字符（NUL），请删除后重新填写。"


def carries_nul() -> bool:
    """Whether the query, the form fields (names or values) or an uploaded file's name hold
    U+0000, which no text column stores (PostgreSQL refuses it outright: a 500 deep in a view
    otherwise)."""
    values = [text for k, vs in request.args.lists() for text in (k, *vs)]
    # Only a form body: reading another (the API's JSON) here would fix its size limit early.
    if request.method == "POST" and request.mimetype in FORM_TYPES:
        values += [text for k, vs in request.form.lists() for text in (k, *vs)]
        values += [f.filename or "" for _, fs in request.files.lists() for f in fs]
    return any("\x00" in v for v in values)


def init_app(app):
    """Add headers to every response and a content hash to every static URL."""
    static_dir = Path(app.static_folder)
    hashes: dict[str, str] = {}

    def static_hash(filename: str) -> str:
        if filename not in hashes:
            path = static_dir / filename
            hashes[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else ""
        return hashes[filename]

    @app.before_request
    def _refuse_nul():
        """Input with U+0000 is refused whole, before any view (after the CSRF check): 422 for
        a form, 400 for a query; the API answers in JSON."""
        if request.endpoint == "static" or not carries_nul():
            return None
        status = 422 if request.method == "POST" else 400
        if request.path.startswith("/api/"):
            return jsonify({"error": NUL_MESSAGE}), status
        return render_template("error.html", status=status, title="内容含有无效字符",
                               message=NUL_MESSAGE), status

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
