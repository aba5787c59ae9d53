"""``policybot serve``: configuration errors, the webhook endpoint, health, clean shutdown.

The webhook tests run the real server (starlette under uvicorn on 127.0.0.1) with the real
python-telegram-bot application and the real dialogue core; Telegram is the stand-in server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.channels.serve import chosen_channels, listening_socket, serve
from bot.channels.telegram import SECRET_HEADER, derived_webhook_secret
from bot.settings import Settings
from tests.fakes.telegram_api import FakeTelegramAPI

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
SEEDS = ROOT / "seeds"
QUESTION = "东莞5G项目能拿多少补贴？"
CITED_NUMBER = "东工信函〔2021〕169号"
WEBHOOK_URL = "https://policybot.example.com/telegram"


def plain_env(**extra: str) -> dict[str, str]:
    """The environment without any PolicyBot setting, plus ``extra``."""
    prefixes = ("TELEGRAM_", "WECOM_", "ADMIN_IDS", "DATABASE_URL", "CORPUS_DIR", "HOST", "PORT")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


async def run_cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ------------------------------------------------------------------ configuration


async def test_serve_with_nothing_configured_says_so(tmp_path: Path):
    code, stderr = await run_cli("serve", env=plain_env(), cwd=tmp_path)
    assert code != 0
    assert "TELEGRAM_BOT_TOKEN" in stderr and "WECOM_CORP_ID" in stderr
    assert "Traceback" not in stderr


async def test_serve_telegram_without_token_says_so(tmp_path: Path):
    env = plain_env(WECOM_CORP_ID="ww1", WECOM_TOKEN="t", WECOM_AES_KEY="k" * 43)
    code, stderr = await run_cli("serve", "telegram", env=env, cwd=tmp_path)
    assert code != 0
    assert "TELEGRAM_BOT_TOKEN is not set" in stderr
    assert "Traceback" not in stderr


def test_channels_chosen_from_configuration():
    nothing = Settings(_env_file=None)  # type: ignore[call-arg]
    both = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token="1:x",
        wecom_corp_id="ww1",
        wecom_token="t",
        wecom_aes_key="k" * 43,
    )
    assert chosen_channels([], nothing)[0] == []
    assert chosen_channels([], both) == (["telegram", "wecom"], None)
    assert chosen_channels(["wecom"], both) == (["wecom"], None)
    assert "unknown channel slack" in str(chosen_channels(["slack"], both)[1])
    assert "serve console" in str(chosen_channels([], nothing)[1])
    assert chosen_channels(["console"], nothing) == ([], None)  # the web console alone
    assert chosen_channels(["console", "wecom"], both) == (["wecom"], None)
    channels, problem = chosen_channels(["telegram"], nothing)
    assert channels == [] and problem is not None and "TELEGRAM_BOT_TOKEN" in problem


# ---------------------------------------------------------------------- webhook


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> object:
    from bot.app import build_dialogue

    folder = tmp_path_factory.mktemp("serve-core")
    return build_dialogue(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{folder / 'policybot.db'}",
            corpus_dir=SEEDS,
        )
    )


@contextlib.asynccontextmanager
async def webhook_server(
    api: FakeTelegramAPI, core: object, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    """``serve`` in webhook mode on a free port; yields (base URL, expected secret)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=api.token,
        telegram_base_url=api.base_url,
        telegram_webhook_url=WEBHOOK_URL,
        database_url=f"sqlite:///{tmp_path / 'policybot.db'}",
        corpus_dir=SEEDS,
    )
    sock = listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    stop = asyncio.Event()
    task = asyncio.create_task(serve(core, settings, ["telegram"], stop=stop, sockets=[sock]))  # type: ignore[arg-type]
    await api.wait_for("setWebhook")
    try:
        yield f"http://127.0.0.1:{port}", derived_webhook_secret(api.token)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0


async def test_webhook_checks_secret_and_processes_updates(core: object, tmp_path: Path):
    async with (
        FakeTelegramAPI() as api,
        webhook_server(api, core, tmp_path) as (base, secret),
        httpx.AsyncClient(base_url=base) as client,
    ):
        [registered] = api.calls_of("setWebhook")
        assert registered.params["url"] == WEBHOOK_URL
        assert registered.params["secret_token"] == secret
        assert set(registered.params["allowed_updates"]) >= {"message", "callback_query"}

        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json()["channels"] == ["telegram"]

        update = api.message_update(QUESTION, user_id=51)
        update["update_id"] = 1
        assert (await client.post("/telegram", json=update)).status_code == 403
        wrong = {SECRET_HEADER: "not-the-secret"}
        assert (await client.post("/telegram", json=update, headers=wrong)).status_code == 403
        assert not api.calls_of("sendMessage", chat_id=51)

        right = {SECRET_HEADER: secret}
        bad = await client.post("/telegram", content=b"{not json", headers=right)
        assert bad.status_code == 400
        listed = await client.post("/telegram", json=[update], headers=right)
        assert listed.status_code == 400

        accepted = await client.post("/telegram", json=update, headers=right)
        assert accepted.status_code == 200
        [answer] = await api.wait_for("sendMessage", chat_id=51)
        assert CITED_NUMBER in answer.text and "<blockquote>" in answer.text
    assert not api.calls_of("getUpdates")  # webhook mode never polls


async def test_configured_webhook_secret_is_used(core: object, tmp_path: Path):
    async with FakeTelegramAPI() as api:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            telegram_bot_token=api.token,
            telegram_base_url=api.base_url,
            telegram_webhook_url=WEBHOOK_URL,
            telegram_webhook_secret="operator-chosen_secret-42",
        )
        sock = listening_socket("127.0.0.1", 0)
        port = sock.getsockname()[1]
        stop = asyncio.Event()
        task = asyncio.create_task(serve(core, settings, ["telegram"], stop=stop, sockets=[sock]))  # type: ignore[arg-type]
        [registered] = await api.wait_for("setWebhook")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            update = {"update_id": 7, **api.message_update("/help", user_id=52)}
            derived = {SECRET_HEADER: derived_webhook_secret(api.token)}
            assert (await client.post("/telegram", json=update, headers=derived)).status_code == 403
            chosen = {SECRET_HEADER: "operator-chosen_secret-42"}
            assert (await client.post("/telegram", json=update, headers=chosen)).status_code == 200
            await api.wait_for("sendMessage", chat_id=52)
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
    assert registered.params["secret_token"] == "operator-chosen_secret-42"


# --------------------------------------------------------------------- shutdown


async def test_sigterm_stops_a_polling_bot_cleanly(tmp_path: Path):
    port = free_port()
    async with FakeTelegramAPI() as api:
        env = plain_env(
            TELEGRAM_BOT_TOKEN=api.token,
            TELEGRAM_BASE_URL=api.base_url,
            DATABASE_URL=f"sqlite:///{tmp_path / 'policybot.db'}",
            CORPUS_DIR=str(SEEDS),
            HOST="127.0.0.1",
            PORT=str(port),
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "-v",
            "serve",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await api.wait_for("getUpdates", timeout=120)
            api.message(QUESTION, user_id=53)
            [answer] = await api.wait_for("sendMessage", chat_id=53)
            assert CITED_NUMBER in answer.text
            async with httpx.AsyncClient() as client:
                health = await client.get(f"http://127.0.0.1:{port}/healthz")
            assert health.json() == {
                "status": "ok",
                "channels": ["telegram"],
                "database": True,
                "corpus": True,
            }
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    log = stderr.decode()
    assert process.returncode == 0, log
    assert api.token not in log and api.token.split(":")[1] not in log
    assert "Traceback" not in log
    assert api.calls_of("deleteWebhook")  # polling starts by clearing any webhook
