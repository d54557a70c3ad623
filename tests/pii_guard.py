"""The suite-wide personal-data guard (SECURITY.md row 17).

Every response the test app gives (headers and body: html, json, csv, and the xml parts of an
xlsx) and every log record of a test is searched for a 身份证号 (18 digits with a valid birth
date and GB 11643 check digit) or a mainland 手机号 in clear. Only the audited reveal may
answer one. What is found is reported masked: the failure message must not leak either.
"""
import datetime
import io
import logging
import re
import threading
import zipfile
from contextlib import contextmanager

from flask import request
from stdnum.cn import ric

# A digit run touching a Latin letter is part of a token (the hex `?v=` of static URLs, audit
# hashes, CSRF tokens), not a number a person reads.
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])")
# The audited reveal shows one value in full on purpose; static files hold no personal data.
EXEMPT_ENDPOINTS = frozenset({"teachers.teacher_reveal", "static"})
LONG_DIGITS = re.compile(r"[0-9]{7,}[0-9Xx]?")


def is_id_number(candidate: str) -> bool:
    """A 身份证号 as the product accepts it: a real birth date and the right check digit."""
    number = candidate.upper()
    try:
        datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return ric.calc_check_digit(number) == number[17]  # the function ignores the last character


def find_personal_data(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every 身份证号 and 手机号 in clear in `text`."""
    found = [("身份证号", m.start(), m.end()) for m in ID_NUMBER.finditer(text)
             if is_id_number(m.group())]
    found += [("手机号", m.start(), m.end()) for m in MOBILE.finditer(text)]
    return sorted(found, key=lambda hit: hit[1])


def mask(value: str) -> str:
    """Enough to recognise a value in a report, never enough to read it."""
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def scrub(text: str) -> str:
    """`text` with every long digit run masked, so a report can quote the context."""
    return LONG_DIGITS.sub(lambda m: mask(m.group()), text)


def response_texts(response) -> list[str]:
    """The parts of a response a person could read: headers, and the body as text (an xlsx
    is a zip: its xml parts). A file answer is read now and stays readable for the client."""
    response.direct_passthrough = False
    body = response.get_data()
    texts = ["\n".join(f"{name}: {value}" for name, value in response.headers.items())]
    if body.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(body)) as book:
            return texts + [book.read(name).decode("utf-8", "replace") for name in book.namelist()]
    return texts + [body.decode("utf-8", "replace")]


class _LogScanner(logging.Handler):
    """Hands every log record, formatted as a log file would show it, to the guard."""

    def __init__(self, guard: "PersonalDataGuard"):
        super().__init__(logging.NOTSET)
        self.guard = guard

    def emit(self, record: logging.LogRecord) -> None:
        self.guard.scan(f"log record of {record.name} ({record.levelname})", self.format(record))


class PersonalDataGuard:
    """Collects the personal data one test let out, from every app it watches and its logs."""

    def __init__(self):
        self.leaks: list[str] = []
        self._lock = threading.Lock()  # the live server answers from its own threads

    def scan(self, where: str, text: str) -> None:
        for kind, start, end in find_personal_data(text):
            excerpt = (scrub(text[max(0, start - 40):start]) + mask(text[start:end])
                       + scrub(text[end:end + 40])).replace("\n", " ")
            with self._lock:
                self.leaks.append(f"{scrub(where)}: {kind} in clear: …{excerpt}…")

    def scan_response(self, where: str, response) -> None:
        for text in response_texts(response):
            self.scan(where, text)

    def watch(self, app) -> None:
        """Scan every response of `app` except those of the exempt endpoints."""
        @app.after_request
        def _scan_for_personal_data(response):
            if request.endpoint not in EXEMPT_ENDPOINTS:
                where = f"{request.method} {request.full_path.rstrip('?')} ({request.endpoint})"
                self.scan_response(where, response)
            return response

    @contextmanager
    def capturing_logs(self):
        """Scan every log record of INFO and above while the block runs."""
        root = logging.getLogger()
        handler, level = _LogScanner(self), root.level
        root.addHandler(handler)
        if root.getEffectiveLevel() > logging.INFO:
            root.setLevel(logging.INFO)
        try:
            yield self
        finally:
            root.removeHandler(handler)
            root.setLevel(level)

    def report(self) -> str:
        lines = self.leaks[:20] + ([f"… and {len(self.leaks) - 20} more"] if len(self.leaks) > 20 else [])
        return "personal data in clear (SECURITY.md row 17):\n" + "\n".join(lines)
