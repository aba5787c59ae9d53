"""How long a helpdesk page takes to answer: the web console in Debian's chromium.

Starts ``policybot serve`` (the console alone) over a copy of the seeds in a scratch folder,
signs in, and asks N questions by typing them and pressing Enter, timing each from the key
press until the answer is on the page (server, dialogue core and rendering together). With
``--screens DIR`` it also saves every page at 1280 px and 390 px wide.

    .venv/bin/python benchmarks/console_bench.py [--asks 50] [--screens /work/notes/screens]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_dialogue  # noqa: E402
from bot.channels.serve import listening_socket, serve  # noqa: E402
from bot.console.auth import add_user  # noqa: E402
from bot.settings import Settings  # noqa: E402

QUESTIONS = [
    "东莞5G项目能拿多少补贴？",
    "中山的数字贷贴息怎么申请？",
    "宝安区上云上平台有什么补贴？",
    "广州有哪些人才政策？",
    "那中山呢？",
]
REFUSED = ["火星移民签证怎么办理？", "北京有什么补贴？"]
PASSWORD = "bench-password"
PAGES = ["", "lookups", "documents", "unanswered", "stats", "audit"]


def start(folder: Path) -> tuple[str, threading.Thread, asyncio.AbstractEventLoop, asyncio.Event]:
    shutil.copytree(ROOT / "seeds", folder / "corpus")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{folder / 'policybot.db'}",
        corpus_dir=folder / "corpus",
        cache_dir=folder / "cache",
    )
    dialogue = build_dialogue(settings)
    add_user(engine=dialogue.engine, name="管理员", password=PASSWORD, role="admin")
    sock = listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    loop, stop = asyncio.new_event_loop(), asyncio.Event()
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(
            serve(dialogue, settings, [], stop=stop, sockets=[sock])
        ),
        daemon=True,
    )
    thread.start()
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    return f"http://127.0.0.1:{port}/console", thread, loop, stop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=50)
    parser.add_argument("--screens", type=Path, help="save each page's screenshots here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        url, thread, loop, stop = start(Path(scratch))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"{url}/login")
                if args.screens:
                    args.screens.mkdir(parents=True, exist_ok=True)
                    for width in (1280, 390):
                        page.set_viewport_size(
                            {"width": width, "height": 844 if width < 500 else 900}
                        )
                        page.screenshot(
                            path=str(args.screens / f"login-{width}.png"), full_page=True
                        )
                    page.set_viewport_size({"width": 1280, "height": 900})
                page.fill("input[name=name]", "管理员")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{url}/")
                timings = []
                for number in range(args.asks):
                    page.fill("#question", QUESTIONS[number % len(QUESTIONS)])
                    started = time.perf_counter()
                    page.press("#question", "Enter")
                    page.locator(".exchange").nth(number).locator(".reply").wait_for()
                    timings.append((time.perf_counter() - started) * 1000)
                for text in REFUSED:
                    page.fill("#question", text)
                    page.press("#question", "Enter")
                    page.locator(".exchange").nth(args.asks + REFUSED.index(text)).wait_for()
                print(
                    f"asked {len(timings)} questions in the console: median "
                    f"{statistics.median(timings):.0f} ms, p90 "
                    f"{statistics.quantiles(timings, n=10)[-1]:.0f} ms, "
                    f"min {min(timings):.0f} ms, max {max(timings):.0f} ms"
                )
                if args.screens:
                    screens(page, url, args.screens)
                browser.close()
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(15)
    return 0


def screens(page, url: str, folder: Path) -> None:  # type: ignore[no-untyped-def]
    """Every page at 1280 px and 390 px (a phone), a fresh conversation on the Ask page."""
    page.goto(f"{url}/")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900 if width > 500 else 844})
        page.goto(f"{url}/")
        page.fill("#question", QUESTIONS[0])
        page.press("#question", "Enter")
        page.locator(".exchange .reply").first.wait_for()
        page.locator(".answer summary").first.click()
        page.screenshot(path=str(folder / f"ask-{width}.png"), full_page=True)
        for name in PAGES[1:]:
            page.goto(f"{url}/{name}")
            page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
        page.goto(f"{url}/documents")
        page.locator("table.documents a").first.click()
        page.screenshot(path=str(folder / f"document-{width}.png"), full_page=False)


if __name__ == "__main__":
    sys.exit(main())
