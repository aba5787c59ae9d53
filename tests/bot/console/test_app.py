"""The console's guard without a browser (Starlette's test client): off until an admin
exists, the login rate limit, CSRF on sign-in, sessions that end, admin-only posts."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.app import build_dialogue
from bot.console.app import console_app
from bot.console.auth import add_user, audit_log
from bot.console.settings import ConsoleSettings
from bot.dialogue import Dialogue
from bot.settings import Settings
from tests.conftest import SEEDS

pytestmark = pytest.mark.e2e  # the console app over a real dialogue core and its database

PASSWORD = "right-password"


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dialogue]:
    folder = tmp_path_factory.mktemp("console-app")
    shutil.copytree(SEEDS, folder / "corpus")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{folder / 'policybot.db'}",
        corpus_dir=folder / "corpus",
    )
    dialogue = build_dialogue(settings)
    yield dialogue
    dialogue.engine.dispose()


def client_for(dialogue: Dialogue, **console: object) -> httpx.AsyncClient:
    """The console mounted as ``policybot serve`` mounts it, called in-process."""
    settings = ConsoleSettings(_env_file=None, **console)  # type: ignore[call-arg]
    app = console_app(dialogue, dialogue.settings, console=settings)
    outer = Starlette(routes=[Mount("/console", app=app)])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=outer), base_url="http://testserver")


def token(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    page = await client.get("/console/login")
    return await client.post(
        "/console/login",
        data={"csrf": token(page.text), "name": name, "password": password},
        follow_redirects=False,
    )


async def test_the_console_is_off_until_an_admin_exists(dialogue: Dialogue) -> None:
    client = client_for(dialogue)
    off = await client.get("/console/login")
    assert off.status_code == 503 and "policybot user add" in off.text
    add_user(engine=dialogue.engine, name="helper", password=PASSWORD, role="staff")
    assert (await client.get("/console/")).status_code == 503  # staff alone do not switch it on
    add_user(engine=dialogue.engine, name="boss", password=PASSWORD, role="admin")
    on = await client.get("/console/", follow_redirects=False)
    assert on.status_code == 303 and on.headers["location"].endswith("/console/login")


async def test_sign_in_needs_the_csrf_token(dialogue: Dialogue) -> None:
    add_user(engine=dialogue.engine, name="boss", password=PASSWORD, role="admin")
    client = client_for(dialogue)
    await client.get("/console/login")
    refused = await client.post("/console/login", data={"name": "boss", "password": PASSWORD})
    assert refused.status_code == 403 and "安全令牌" in refused.text
    assert (await sign_in(client, "boss", PASSWORD)).status_code == 303
    assert (await client.get("/console/audit")).status_code == 200


async def test_repeated_wrong_passwords_are_rate_limited(dialogue: Dialogue) -> None:
    add_user(engine=dialogue.engine, name="limited", password=PASSWORD, role="admin")
    client = client_for(dialogue, login_attempts=3)
    for _ in range(3):
        assert (await sign_in(client, "limited", "wrong")).status_code == 401
    blocked = await sign_in(client, "limited", PASSWORD)  # even the right password, for a while
    assert blocked.status_code == 429 and "登录失败次数过多" in blocked.text
    assert (
        await sign_in(client, "boss-other", "wrong")
    ).status_code == 401  # other names unaffected


async def test_signing_out_ends_the_session(dialogue: Dialogue) -> None:
    add_user(engine=dialogue.engine, name="boss", password=PASSWORD, role="admin")
    client = client_for(dialogue)
    await sign_in(client, "boss", PASSWORD)
    page = await client.get("/console/documents")
    assert page.status_code == 200
    await client.post("/console/logout", data={"csrf": token(page.text)})
    after = await client.get("/console/documents", follow_redirects=False)
    assert after.status_code == 303


async def test_admin_commands_typed_in_the_ask_box_are_audited(dialogue: Dialogue) -> None:
    add_user(engine=dialogue.engine, name="boss", password=PASSWORD, role="admin")
    client = client_for(dialogue)
    await sign_in(client, "boss", PASSWORD)
    csrf = token((await client.get("/console/")).text)
    reply = await client.post(
        "/console/ask", data={"csrf": csrf, "text": "/lookup add 测一下 = 东莞5G补贴"}
    )
    assert reply.status_code == 200 and "测一下" in reply.text
    entries = audit_log(engine=dialogue.engine)
    assert any(e.user_name == "boss" and "测一下" in e.detail for e in entries)


async def test_staff_cannot_upload(dialogue: Dialogue, tmp_path: Path) -> None:
    add_user(engine=dialogue.engine, name="helper", password=PASSWORD, role="staff")
    add_user(engine=dialogue.engine, name="boss", password=PASSWORD, role="admin")
    client = client_for(dialogue)
    await sign_in(client, "helper", PASSWORD)
    csrf = token((await client.get("/console/documents")).text)
    refused = await client.post(
        "/console/documents/upload",
        data={"csrf": csrf},
        files={"file": ("a.txt", "东莞市工业和信息化局\n关于测试的通知\n".encode())},
    )
    assert refused.status_code == 403 and "仅限管理员" in refused.text
