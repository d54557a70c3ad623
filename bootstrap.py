#!/usr/bin/env python3
"""Set up yanxiu from a fresh clone and run it or its tests (standard library only).

    python3 bootstrap.py start              # demo dataset, then serve at http://127.0.0.1:8000/
    python3 bootstrap.py test [pytest args] # the test suite (PostgreSQL: YANXIU_TEST_DATABASE_URL)

Both create `.venv` when missing and `pip install -e '.[dev]'` into it, skipping the install
while pyproject.toml is unchanged since the last one (its hash is kept in .venv/.yanxiu-installed).
`start` listens on YANXIU_PORT (default 8000); every other YANXIU_* variable passes through.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".yanxiu-installed"
DEMO_PASSWORD = "Demo@2025"
DEMO_ACCOUNTS = ("operator", "zj_super", "zj_admin", "hz_admin", "xh_admin", "nb_admin",
                 "school_admin", "teacher")


def run(*args: str) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, cwd=ROOT, check=True)


def ensure_venv() -> None:
    """Create .venv and install yanxiu with its dev extra, unless already up to date."""
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except (OSError, subprocess.CalledProcessError):
            shutil.rmtree(VENV, ignore_errors=True)
            sys.exit("bootstrap: could not create .venv with pip "
                     "(on Debian/Ubuntu: apt-get install python3-venv)")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    run(str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip", "setuptools")
    run(str(PYTHON), "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(digest + "\n")


def flask(*args: str) -> list[str]:
    return [str(PYTHON), "-m", "flask", "--app", "app", *args]


def start() -> NoReturn:
    run(*flask("demo"))
    port = os.environ.get("YANXIU_PORT", "8000")
    print(f"\nyanxiu: http://127.0.0.1:{port}/  (Ctrl-C stops)\n"
          f"demo accounts: {', '.join(DEMO_ACCOUNTS)}; password {DEMO_PASSWORD}\n", flush=True)
    os.chdir(ROOT)
    command = flask("serve", "--host", "127.0.0.1", "--port", port)
    os.execv(command[0], command)  # the server replaces this process: Ctrl-C and signals reach it


def test(pytest_args: list[str]) -> int:
    code = subprocess.call([str(PYTHON), "-m", "pytest", *pytest_args], cwd=ROOT)
    if code == 5:
        print("bootstrap: pytest collected no tests (check the arguments)", file=sys.stderr)
        return 1
    return code


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("start", "test"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        ensure_venv()
        if argv[0] == "start":
            return start()
        return test(argv[1:])
    except subprocess.CalledProcessError as error:
        print(f"bootstrap: command failed with exit code {error.returncode}", file=sys.stderr)
        return error.returncode or 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
