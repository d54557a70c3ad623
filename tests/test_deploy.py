"""The Docker image's install and start steps, performed outside Docker.

(a) the wheel `pip install .` builds carries everything the app reads at runtime; (b) the
container's entrypoint migrates a fresh SQLite database and serves the app with waitress;
(c) the Dockerfile starts through that entrypoint and its HEALTHCHECK asks /healthz (its probe
is also run against the server of (b)).
SQLite only: skipped when the suite runs on PostgreSQL (YANXIU_TEST_DATABASE_URL).
"""
import gzip
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(bool(os.environ.get("YANXIU_TEST_DATABASE_URL")),
                                reason="deployment checks run on SQLite only")

ROOT = Path(__file__).resolve().parents[1]
NOT_SHIPPED = ("tests", "docs", "scripts", "instance", "build", ".*", "*.egg-info",
               "__pycache__")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of a clean copy of the source tree (no stale build/ of a checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp)]
    setuptools = tuple(int(p) for p in metadata.version("setuptools").split(".")[:2])
    if setuptools >= (70, 1):  # bdist_wheel built in: no isolated build environment needed
        command.append("--no-build-isolation")
    subprocess.run([*command, "."], cwd=source, check=True, timeout=120)
    (path,) = tmp.glob("yanxiu-*.whl")
    return path


def test_wheel_carries_templates_static_files_and_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("yanxiu/templates/base.html", "yanxiu/static/style.css",
                     "yanxiu/data/regions.csv", "yanxiu/data/common-passwords.txt"):
        assert required in names
    assert any(re.fullmatch(r"yanxiu/static/htmx-[\d.]+\.min\.js", n) for n in names)
    # Every file the app reads at runtime, not just the ones named above.
    on_disk = {p.relative_to(ROOT).as_posix()
               for folder in ("templates", "static", "data")
               for p in (ROOT / "yanxiu" / folder).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert on_disk - names == set()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_entrypoint_migrates_and_serves(tmp_path):
    port = _free_port()
    env = {**os.environ,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "YANXIU_DATABASE_URL": f"sqlite:///{tmp_path / 'yanxiu.db'}",
           "YANXIU_SECRET_KEY": "deploy-test-secret", "YANXIU_HOST": "127.0.0.1",
           "YANXIU_PORT": str(port)}
    log = (tmp_path / "server.log").open("w+")
    server = subprocess.Popen(["sh", str(ROOT / "docker/entrypoint.sh")], cwd=tmp_path, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"entrypoint exited early:\n{_read(log)}"
            try:
                status, headers, body = _get(base + "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no healthy /healthz in 30 s:\n{_read(log)}"
            time.sleep(0.2)
        assert headers["Content-Type"].startswith("application/json")
        json.loads(body)

        status, headers, body = _get(base + "/login", **{"Accept-Encoding": "gzip"})
        assert status == 200
        assert headers.get("Content-Encoding") == "gzip"
        page = gzip.decompress(body).decode("utf-8")
        assert 'lang="zh' in page and "登录" in page

        probe = _command(_healthcheck())
        assert probe[0] == "python"
        result = subprocess.run([sys.executable, *probe[1:]], env=env, capture_output=True,
                                timeout=15)
        assert result.returncode == 0, result.stderr
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    assert (tmp_path / "yanxiu.db").exists()


def _read(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-4000:]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
            for line in lines if line and not line.startswith("#")]


def _healthcheck() -> str:
    """The command of the Dockerfile's HEALTHCHECK (after its options)."""
    (healthcheck,) = [args for kind, args in _instructions() if kind == "HEALTHCHECK"]
    return healthcheck.split("CMD", 1)[1].strip()


def _command(arguments: str) -> list[str]:
    """An exec-form (JSON) or shell-form command as a list of words."""
    return json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)


def test_dockerfile_starts_through_the_entrypoint_and_checks_health():
    instructions = _instructions()
    kinds = [kind for kind, _ in instructions]
    assert instructions[0] == ("FROM", "python:3.11-slim")

    starts = [_command(args) for kind, args in instructions if kind in ("ENTRYPOINT", "CMD")]
    assert any(word.endswith("docker/entrypoint.sh") for command in starts for word in command)

    probe = _healthcheck()
    assert "/healthz" in probe and "urllib" in probe

    users = [args for kind, args in instructions if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN")
    assert ("VOLUME", "/data") in instructions and ("EXPOSE", "8000") in instructions
    runs = " ".join(args for kind, args in instructions if kind == "RUN")
    assert "pip install --no-cache-dir ." in runs and "[dev]" not in runs
    env = " ".join(args for kind, args in instructions if kind == "ENV")
    assert "YANXIU_DATABASE_URL=sqlite:////data/yanxiu.db" in env and "YANXIU_HOST=0.0.0.0" in env


def test_docker_context_keeps_what_the_image_runs():
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for needed in ("app.py", "pyproject.toml", "yanxiu", "migrations", "docker"):
        assert (ROOT / needed).exists() and needed not in ignored
    assert {".git", ".venv", "instance"} <= ignored
