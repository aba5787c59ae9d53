"""``policybot serve [telegram] [wecom]``: the chat channels behind one HTTP server.

One starlette app under uvicorn on HOST:PORT serves ``/healthz``, ``/telegram`` (webhook mode,
when TELEGRAM_WEBHOOK_URL is set) and the WeCom callback routes (when WeCom is configured).
In polling mode Telegram fetches its own updates and the server still answers ``/healthz``.
SIGTERM or SIGINT stops everything cleanly: the server stops accepting, the bot stops
fetching, handlers in flight finish, connections close.
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
from collections.abc import Callable, Collection, Iterator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.channels import DialogueHandler
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

CHANNELS = ("telegram", "wecom")
_SHUTDOWN_GRACE_SECONDS = 5.0


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
    if not requested:
        channels = [name for name in CHANNELS if configured[name]]
        if not channels:
            return [], (
                "policybot serve: no chat channel is configured. Set TELEGRAM_BOT_TOKEN to run "
                "the Telegram bot, or WECOM_CORP_ID, WECOM_TOKEN and WECOM_AES_KEY to run WeCom "
                "(environment or .env)."
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


def build_web_app(routes: Sequence[BaseRoute], channels: Collection[str]) -> Starlette:
    """The one ASGI app: the channels' routes plus ``/healthz`` for load balancers."""

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "channels": sorted(channels)})

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]), *routes])


async def serve(
    dialogue: DialogueHandler,
    settings: Settings,
    channels: Collection[str],
    *,
    stop: asyncio.Event | None = None,
    sockets: list[socket.socket] | None = None,
    rate_limited: bool = True,
) -> int:
    """Run the channels until ``stop`` is set (or SIGTERM/SIGINT arrives); the exit code.

    ``rate_limited=False`` drops the Telegram flood limiter (benchmarks of raw capacity only).
    """
    from bot.channels.telegram import TelegramChannel

    stop = stop or asyncio.Event()
    telegram = (
        TelegramChannel(dialogue, settings, rate_limited=rate_limited)
        if "telegram" in channels
        else None
    )
    routes: list[BaseRoute] = []
    if telegram is not None and telegram.webhook_url:
        routes.extend(telegram.routes())
    wecom = None
    if "wecom" in channels:
        from bot.channels.wecom import WeComChannel  # only when WeCom is configured

        wecom = WeComChannel(dialogue, settings)
        routes.extend(wecom.routes)
    app = build_web_app(routes, channels)
    server = _Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=_SHUTDOWN_GRACE_SECONDS,
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
    try:
        while not server.started:  # listening before Telegram is told where to deliver
            if server_task.done():
                return _server_failed(server_task, settings)
            await asyncio.sleep(0.02)
        if telegram is not None:
            await telegram.start()
        if wecom is not None:
            await wecom.startup()
        logger.info("serving %s on %s:%s", ", ".join(channels), settings.host, settings.port)
        stop_task = asyncio.create_task(stop.wait())
        await asyncio.wait({server_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_task.cancel()
        if server_task.done():
            return _server_failed(server_task, settings)
        return 0
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(server_task, _SHUTDOWN_GRACE_SECONDS + 1)
        if telegram is not None:
            await telegram.stop()
        if wecom is not None:  # answers still under way reach their users
            await wecom.shutdown()
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

        protect_token_in_logs(settings.telegram_bot_token.get_secret_value().strip())
    from bot.app import build_dialogue

    dialogue = build_dialogue(settings)
    return asyncio.run(serve(dialogue, settings, channels))
