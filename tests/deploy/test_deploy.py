"""The deployment files in deploy/: what they run, and validated by the real tools where this
machine has them (systemd-analyze verify, nginx -t and nginx proxying to serve's web app, a
container build). A tool that is missing skips its check; CI does not install them."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import socket
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.channels.serve import build_web_app
from bot.settings import Settings

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "policybot.service"
DOCKERFILE = DEPLOY / "Dockerfile"
NGINX = DEPLOY / "nginx.conf"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(UNIT, encoding="utf-8")
    return parser


def test_the_unit_runs_serve_as_a_service_user_with_the_env_file() -> None:
    service = unit()["Service"]
    assert service["ExecStart"].endswith("/.venv/bin/policybot serve")
    assert service["User"] == "policybot" and service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/policybot/policybot.env"
    assert "network-online.target" in unit()["Unit"]["After"]
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    """verify checks keys and that ExecStart exists, so point it at this checkout's command."""
    command = shutil.which("policybot") or str(ROOT / ".venv" / "bin" / "policybot")
    assert Path(command).exists(), "the policybot command is installed"
    env_file = tmp_path / "policybot.env"
    env_file.write_text("DATABASE_URL=sqlite:///data/policybot.db\n", encoding="utf-8")
    text = (
        UNIT.read_text(encoding="utf-8")
        .replace("/opt/policybot/.venv/bin/policybot", command)
        .replace("/opt/policybot", str(ROOT))
        .replace("/etc/policybot/policybot.env", str(env_file))
    )
    copy = tmp_path / "policybot.service"
    copy.write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(text.replace("ExecStart=", "ExecStrat="), encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert "ExecStrat" in result.stderr, "the check does catch a broken unit"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    rows = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in rows
        if line and not line.startswith("#")
    ]


def test_the_image_runs_serve_unprivileged_on_all_interfaces() -> None:
    instructions = dockerfile_instructions()
    last = dict(instructions)
    assert json.loads(last["CMD"]) == ["policybot", "serve"]
    assert last["USER"] == "policybot"
    assert "HOST=0.0.0.0" in last["ENV"] and f"PORT={Settings(_env_file=None).port}" in last["ENV"]
    assert last["EXPOSE"] == str(Settings(_env_file=None).port)
    assert "/healthz" in last["HEALTHCHECK"]
    for kind, argument in instructions:
        if kind == "COPY":
            *sources, _target = argument.split()
            assert all((ROOT / source).exists() for source in sources), argument
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {argument.split()[0] for kind, argument in instructions if kind == "COPY"}
    assert {package.rstrip("*") for package in packages} <= copied, "every package is copied"


def test_the_build_context_leaves_secrets_and_local_state_out() -> None:
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".venv", "data", "*.db", ".git"} <= set(ignored)


def test_compose_runs_the_image_with_postgresql() -> None:
    compose = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    assert "image: postgres:" in compose and "dockerfile: deploy/Dockerfile" in compose
    assert re.search(r"DATABASE_URL: postgresql\+psycopg://\S+@db:5432/", compose)


def _engine_runs() -> bool:
    docker = shutil.which("docker") or shutil.which("podman")
    if docker is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not _engine_runs(), reason="no container engine running")
def test_the_image_builds() -> None:  # pragma: no cover - only where an engine runs
    docker = shutil.which("docker") or shutil.which("podman")
    result = subprocess.run(
        [str(docker), "build", "-f", str(DOCKERFILE), "-t", "policybot:test", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-2000:]


# ---------------------------------------------------------------------- the reverse proxy


def test_the_proxy_forwards_only_the_bot_paths_to_serve() -> None:
    config = NGINX.read_text(encoding="utf-8")
    port = Settings(_env_file=None).port
    assert f"server 127.0.0.1:{port}" in config
    for path in ("/telegram", "/wecom", "/healthz"):
        block = re.search(rf"location = {path} \{{(.*?)\n    \}}", config, re.S)
        assert block and "proxy_pass http://policybot;" in block.group(1), path
    assert re.search(r"location / \{\s*return 404;", config)
    limit = re.search(r"client_max_body_size (\d+)([km]);", config)
    assert limit is not None
    size = int(limit.group(1)) * {"k": 1024, "m": 1024 * 1024}[limit.group(2)]
    wecom = tomllib.loads((ROOT / "bot" / "data" / "wecom.toml").read_text(encoding="utf-8"))
    assert size >= max(int(v) for k, v in _flat(wecom) if k == "max_body_bytes"), (
        "serve's own limit answers first, with its own message"
    )
    assert "return 301 https://" in config


def _flat(table: dict, prefix: str = "") -> Iterator[tuple[str, object]]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield key, value


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def backend() -> Iterator[int]:
    """serve's web app (``/healthz``) plus echoing stand-ins for the channel routes."""

    async def echo(request: Request) -> PlainTextResponse:
        body = await request.body()
        forwarded = request.headers.get("x-forwarded-proto", "")
        return PlainTextResponse(f"{request.url.path} {len(body)} {forwarded}")

    routes = [Route(path, echo, methods=["GET", "POST"]) for path in ("/telegram", "/wecom")]
    app = build_web_app(routes, ["telegram", "wecom"])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("openssl") is None, reason="nginx missing"
)
def test_nginx_accepts_the_config_and_proxies_to_serve(tmp_path: Path, backend: int) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    http_port, https_port = _free_port(), _free_port()
    site = (
        NGINX.read_text(encoding="utf-8")
        .replace(
            "/etc/letsencrypt/live/bot.example.gov.cn/fullchain.pem", str(tmp_path / "cert.pem")
        )
        .replace("/etc/letsencrypt/live/bot.example.gov.cn/privkey.pem", str(tmp_path / "key.pem"))
        .replace("127.0.0.1:8080", f"127.0.0.1:{backend}")
        .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    )
    site = "\n".join(line for line in site.splitlines() if "[::]" not in line)
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {tmp_path};\n"
        f"  proxy_temp_path {tmp_path}/proxy;\n  include {tmp_path}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    check = subprocess.run(
        ["nginx", "-t", "-c", str(main)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen(["nginx", "-c", str(main)], stderr=subprocess.PIPE)
    try:
        base = f"https://127.0.0.1:{https_port}"
        with httpx.Client(verify=False, timeout=10) as client:
            for _ in range(100):
                try:
                    health = client.get(f"{base}/healthz")
                    break
                except httpx.ConnectError:
                    time.sleep(0.05)
            assert health.status_code == 200 and health.json()["status"] == "ok"
            update = client.post(f"{base}/telegram", content=b"{}")
            assert update.text == "/telegram 2 https", "the body and the scheme reach serve"
            assert client.get(f"{base}/wecom?echostr=x").text.startswith("/wecom 0")
            assert client.get(f"{base}/admin").status_code == 404, "nothing else is exposed"
            assert client.get(f"{base}/telegram").status_code == 403, "Telegram only POSTs"
            huge = client.post(f"{base}/wecom", content=b"x" * (2 * 1024 * 1024))
            assert huge.status_code == 413
            plain = client.get(f"http://127.0.0.1:{http_port}/healthz")
            assert plain.status_code == 301 and plain.headers["location"].startswith("https://")
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
