"""The console under test: ``policybot serve`` (the real app and dialogue core) on 127.0.0.1 in
a thread of its own, over a copy of the seeds, with an admin and a staff account; and a
headless Debian chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import build_dialogue
from bot.channels.serve import listening_socket, serve
from bot.console.auth import add_user
from bot.dialogue import Dialogue
from bot.settings import Settings
from tests.conftest import SEEDS

CHROMIUM = Path("/usr/bin/chromium")
ADMIN, ADMIN_PASSWORD = "admin", "admin-pass-1"
STAFF, STAFF_PASSWORD = "staff", "staff-pass-1"
_START_SECONDS = 60
_STOP_SECONDS = 15


@dataclass
class RunningConsole:
    url: str  # http://127.0.0.1:PORT/console
    dialogue: Dialogue
    corpus_dir: Path


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningConsole]:
    """``serve`` with no chat channel (the console alone), stopped within a bounded time."""
    folder = tmp_path_factory.mktemp("console")
    corpus_dir = folder / "corpus"
    shutil.copytree(SEEDS, corpus_dir)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{folder / 'policybot.db'}",
        corpus_dir=corpus_dir,
    )
    dialogue = build_dialogue(settings)
    add_user(engine=dialogue.engine, name=ADMIN, password=ADMIN_PASSWORD, role="admin")
    add_user(engine=dialogue.engine, name=STAFF, password=STAFF_PASSWORD, role="staff")
    sock = listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    outcome: list[object] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            outcome.append(
                loop.run_until_complete(serve(dialogue, settings, [], stop=stop, sockets=[sock]))
            )
        except BaseException as error:  # surfaced by the fixture, not lost in the thread
            outcome.append(error)
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="console-server", daemon=True)
    thread.start()
    _wait_until_up(port, thread)
    try:
        yield RunningConsole(f"http://127.0.0.1:{port}/console", dialogue, corpus_dir)
    finally:
        if not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(_STOP_SECONDS)
        assert not thread.is_alive(), "the console server did not stop in time"
        dialogue.engine.dispose()


def _wait_until_up(port: int, thread: threading.Thread) -> None:
    import time

    import httpx

    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the console server stopped while starting")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the console server did not start")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, headless (install it with apt; ``.ci/run`` does)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()
