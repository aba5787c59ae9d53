"""``policybot serve [telegram] [wecom]``: the chat channels behind one HTTP server.

One starlette app under uvicorn on HOST:PORT serves ``/livez`` (the process runs),
``/healthz`` (ready: the database is writable and the corpus loaded), ``/telegram`` (webhook
mode, when TELEGRAM_WEBHOOK_URL is set) and the WeCom callback routes (when WeCom is
configured). Every channel shares one ``bot.delivery.Delivery``: the outbox, the per-session
queues and the courier. SIGTERM or SIGINT stops everything within SHUTDOWN_GRACE_SECONDS: the
server stops accepting, the bot stops fetching, answers in flight get the grace period and what
is unfinished stays in the outbox for the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence

import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.channels import Channel, DialogueHandler
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

CHANNELS = ("telegram", "wecom")
CONSOLE = "console"  # `policybot serve console`: the web console alone, no chat channel


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` owns SIGTERM/SIGINT for all parts."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def chosen_channels(requested: Sequence[str], settings: Settings) -> tuple[list[str], str | None]:
    """The channels to run, or an error message naming what is missing."""
    configured = {"telegram": settings.telegram_enabled, "wecom": settings.wecom_enabled}
    missing_names = {
        "telegram": "TELEGRAM_BOT_TOKEN",
        "wecom": "WECOM_CORP_ID, WECOM_TOKEN and WECOM_AES_KEY",
    }
    if requested and set(requested) == {CONSOLE}:
        return [], None  # the console is served with every channel, and alone when asked
    requested = [name for name in requested if name != CONSOLE]
    if not requested:
        channels = [name for name in CHANNELS if configured[name]]
        if not channels:
            return [], (
                "policybot serve: no chat channel is configured. Set TELEGRAM_BOT_TOKEN to run "
                "the Telegram bot, or WECOM_CORP_ID, WECOM_TOKEN and WECOM_AES_KEY to run WeCom "
                "(environment or .env); `policybot serve console` serves the web console alone."
            )
        return channels, None
    channels = list(dict.fromkeys(requested))
    unknown = [name for name in channels if name not in CHANNELS]
    if unknown:
        return [], (
            f"policybot serve: unknown channel {', '.join(unknown)}; choose from "
            f"{', '.join(CHANNELS)}."
        )
    for name in channels:
        if not configured[name]:
            return [], f"policybot serve {name}: {missing_names[name]} is not set."
    return channels, None


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket for uvicorn, bound before serving so a busy port fails early.

    It is created with ``IPPROTO_TCP`` on purpose: asyncio sets TCP_NODELAY only on accepted
    sockets whose protocol says TCP, and ``socket.create_server`` leaves it 0, which costs every
    response a ~40 ms Nagle/delayed-ACK stall.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def build_web_app(
    routes: Sequence[BaseRoute],
    channels: Collection[str],
    *,
    ready: Callable[[], Awaitable[dict[str, bool]]] | None = None,
) -> Starlette:
    """The one ASGI app: the channels' routes, ``/livez`` and ``/healthz`` (readiness)."""

    async def livez(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def healthz(_request: Request) -> JSONResponse:
        checks = await ready() if ready is not None else {}
        ok = all(checks.values())
        body = {"status": "ok" if ok else "unavailable", "channels": sorted(channels), **checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    return Starlette(
        routes=[
            Route("/livez", livez, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            *routes,
        ]
    )


def readiness(engine: Engine, dialogue: object) -> Callable[[], Awaitable[dict[str, bool]]]:
    """``/healthz``'s checks: a real write to the database, and a loaded corpus."""

    def database_writable() -> bool:
        try:
            with engine.begin() as connection:  # a write: read-only files and dead servers fail
                connection.execute(text("UPDATE outbox SET id = id WHERE id = -1"))
            return True
        except Exception:
            log_once("database not writable")
            return False

    def corpus_loaded() -> bool:
        service = getattr(dialogue, "service", None) or getattr(dialogue, "_service", None)
        if service is None:
            return True  # a stand-in core (tests) has no corpus to load
        try:
            return bool(service.index.documents)
        except Exception:
            return False

    async def check() -> dict[str, bool]:
        writable, loaded = await asyncio.gather(
            asyncio.wait_for(asyncio.to_thread(database_writable), 5),
            asyncio.to_thread(corpus_loaded),
            return_exceptions=True,
        )
        return {"database": writable is True, "corpus": loaded is True}

    return check


def log_once(message: str) -> None:
    logger.warning("readiness: %s", message, exc_info=True)


async def watch_corpus(dialogue: object, every: float) -> None:
    """Check the corpus version in the background, so the first answer after a reload (and
    an idle period) is already from the new corpus: the check starts the rebuild early."""
    service = getattr(dialogue, "service", None) or getattr(dialogue, "_service", None)
    if service is None:
        return
    tokenizer = getattr(service, "tokenizer", None)
    if tokenizer is not None:  # a server answers for long: all of jieba's dictionary in memory
        with contextlib.suppress(Exception):
            await asyncio.to_thread(tokenizer.load_whole_dictionary)
    if every <= 0:
        return
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(lambda: service.index)


async def serve(
    dialogue: DialogueHandler,
    settings: Settings,
    channels: Collection[str],
    *,
    stop: asyncio.Event | None = None,
    sockets: list[socket.socket] | None = None,
    rate_limited: bool = True,
    engine: Engine | None = None,
) -> int:
    """Run the channels until ``stop`` is set (or SIGTERM/SIGINT arrives); the exit code.

    ``rate_limited=False`` drops the Telegram flood limiter (benchmarks of raw capacity only).
    """
    from bot.console import console_mount
    from bot.delivery import Delivery

    stop = stop or asyncio.Event()
    grace = settings.shutdown_grace_seconds
    if engine is None:
        from bot.db import make_engine

        engine = make_engine(settings.database_url)
    delivery = Delivery(dialogue, engine, settings)
    running: list[Channel] = []
    if "telegram" in channels:
        from bot.channels.telegram import TelegramChannel

        running.append(
            TelegramChannel(dialogue, settings, delivery=delivery, rate_limited=rate_limited)
        )
    if "wecom" in channels:
        from bot.channels.wecom import WeComChannel  # only when WeCom is configured

        running.append(WeComChannel(dialogue, settings, delivery=delivery))
    routes = [route for channel in running for route in channel.routes]
    routes.append(console_mount(dialogue, settings))  # the web console, /console (bot.console)
    app = build_web_app(routes, channels, ready=readiness(engine, dialogue))
    server = _Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=grace,  # type: ignore[arg-type]  # uvicorn takes seconds as a float
        )
    )
    if sockets is None:
        try:
            sockets = [listening_socket(settings.host, settings.port)]
        except OSError as error:
            print(
                f"policybot serve: cannot listen on {settings.host}:{settings.port}: "
                f"{error.strerror or error}",
                file=sys.stderr,
            )
            return 1
    restore = _stop_on_signals(stop)
    server_task = asyncio.create_task(server.serve(sockets))
    watcher = asyncio.create_task(watch_corpus(dialogue, settings.corpus_check_seconds))
    started: list[Channel] = []
    try:
        while not server.started:  # listening before Telegram is told where to deliver
            if server_task.done():
                return _server_failed(server_task, settings)
            await asyncio.sleep(0.02)
        await delivery.start()
        for channel in running:
            await channel.start()
            started.append(channel)
        logger.info("serving %s on %s:%s", ", ".join(channels), settings.host, settings.port)
        stop_task = asyncio.create_task(stop.wait())
        await asyncio.wait({server_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_task.cancel()
        if server_task.done():
            return _server_failed(server_task, settings)
        return 0
    finally:
        # every step bounded: the whole shutdown stays within the grace period (plus a little)
        server.should_exit = True
        watcher.cancel()
        await delivery.stop(grace)
        for channel in reversed(started):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(channel.stop(), 5)
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(server_task, 2)
        if not server_task.done():
            server_task.cancel()
        restore()


def _server_failed(task: asyncio.Task[None], settings: Settings) -> int:
    """The HTTP server ended on its own: say so (where, and why when known) for the operator."""
    error = None if task.cancelled() else task.exception()
    reason = f": {error}" if error is not None else ""
    print(
        f"policybot serve: the HTTP server on {settings.host}:{settings.port} stopped{reason}",
        file=sys.stderr,
    )
    return 1


def _stop_on_signals(stop: asyncio.Event) -> Callable[[], None]:
    """SIGTERM/SIGINT set ``stop``; returns the function that puts the old handlers back."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            continue
        installed.append(signum)

    def restore() -> None:
        for signum in installed:
            loop.remove_signal_handler(signum)

    return restore


def cmd_serve(args: argparse.Namespace) -> int:
    """Entry point of ``policybot serve``: check configuration, build the core, run."""
    settings = get_settings()
    channels, problem = chosen_channels(getattr(args, "channels", None) or [], settings)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    if "wecom" in channels and importlib.util.find_spec("bot.channels.wecom") is None:
        print("policybot serve wecom: the WeCom channel is not installed.", file=sys.stderr)
        return 2
    if settings.telegram_bot_token is not None:
        from bot.channels.telegram import protect_token_in_logs

        protect_token_in_logs(
            settings.telegram_bot_token.get_secret_value().strip(), quiet_httpx=True
        )
    from bot.app import build_dialogue

    dialogue = build_dialogue(settings)
    return asyncio.run(serve(dialogue, settings, channels))
