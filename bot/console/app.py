"""The web console's ASGI app: sign-in, sessions, CSRF, and the pages' shared plumbing.

``console_mount(dialogue, settings)`` is what ``policybot serve`` mounts under ``/console``.
Every page goes through :func:`page`, which turns the console off until an admin exists,
checks the signed session (and its expiry), the role, and the CSRF token of every form.
Sessions live in a signed cookie (Starlette's SessionMiddleware, itsdangerous); the page
handlers are in :mod:`bot.console.pages`.
"""

from __future__ import annotations

import datetime as dt
import inspect
import secrets
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from bot.console.auth import (
    LoginLimiter,
    admin_exists,
    check_password,
    get_user,
    signing_key,
)
from bot.console.settings import ConsoleSettings, get_console_settings
from bot.dialogue import Dialogue
from bot.models import ConsoleUser
from bot.settings import Settings
from bot.types import Incoming, Reply
from retrieval.store import utc_now

PACKAGE_DIR = Path(__file__).resolve().parent
PREFIX = "/console"
CHANNEL = "web"  # the channel name questions asked here are logged under
COOKIE_NAME = "policybot_console"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"

Handler = Callable[..., Any]


@lru_cache(maxsize=1)
def console_texts() -> dict[str, Any]:
    """The console's sentences (``data/console.toml``)."""
    with (PACKAGE_DIR / "data" / "console.toml").open("rb") as handle:
        return tomllib.load(handle)


def says(section: str, key: str, /, **values: object) -> str:
    template = str(console_texts()[section][key])
    return template.format(**values) if values else template


@dataclass
class ConsoleState:
    """What every page needs: the dialogue core, settings, the limiter and a clock."""

    dialogue: Dialogue
    settings: Settings
    console: ConsoleSettings
    limiter: LoginLimiter
    templates: Jinja2Templates
    clock: Callable[[], dt.datetime] = field(default=utc_now)

    @property
    def engine(self) -> Any:
        return self.dialogue.engine


def state_of(request: Request) -> ConsoleState:
    return request.app.state.console


# ---------------------------------------------------------------------- rendering


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use); every form carries it."""
    token = request.session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A message shown once, on the next page (post, redirect, get)."""
    request.session.setdefault("flash", []).append([kind, message])


def render(
    request: Request,
    template: str,
    *,
    user: ConsoleUser | None = None,
    status: int = 200,
    **context: Any,
) -> Response:
    state = state_of(request)
    messages = request.session.pop("flash", []) if "session" in request.scope else []
    return state.templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "csrf": csrf_token(request),
            "flashes": messages,
            "t": console_texts(),
            "prefix": PREFIX,
            **context,
        },
        status_code=status,
    )


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}{path}", status_code=303)


# ---------------------------------------------------------------------- the core


def form_text(form: FormData | None, name: str) -> str:
    value = form.get(name) if form else None
    return value.strip() if isinstance(value, str) else ""


async def say_to_core(request: Request, user: ConsoleUser, text: str, **extra: Any) -> Reply:
    """One message through the dialogue core, as this user's ``web`` conversation."""
    state = state_of(request)
    incoming = Incoming(
        channel=CHANNEL,
        user_id=user.name,
        session_id=str(request.session.get("conv") or user.name),
        text=text,
        is_admin=user.role == "admin",
        **extra,
    )
    return await state.dialogue.handle(incoming)


def reply_text(reply: Reply) -> str:
    return "\n".join([*reply.text, *reply.footer])


# ---------------------------------------------------------------------- the guard


def _session_user(request: Request) -> ConsoleUser | str:
    """The signed-in user, or why not: ``"anonymous"`` or ``"expired"``."""
    state = state_of(request)
    name = request.session.get("user")
    issued = request.session.get("issued")
    if not name or not isinstance(issued, int | float):
        return "anonymous"
    age = state.clock().timestamp() - issued
    if age > state.console.session_hours * 3600 or age < -300:
        request.session.clear()
        return "expired"
    user = get_user(engine=state.engine, name=name)  # deleted or demoted users lose access
    return user if user is not None else "anonymous"


def _csrf_ok(request: Request, form: FormData | None) -> bool:
    expected = request.session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER) or (form.get(CSRF_FIELD) if form else None)
    if not isinstance(expected, str) or not expected or not isinstance(sent, str):
        return False
    return secrets.compare_digest(sent, expected)


async def _form(request: Request, state: ConsoleState) -> FormData | None:
    if request.method != "POST":
        return None
    limit = state.settings.max_upload_bytes + 1024 * 1024
    return await request.form(max_files=1, max_fields=50, max_part_size=limit)


def page(role: str = "staff") -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Guard a page: console on, signed in and not expired, the role, a CSRF token on posts.

    The handler gets ``(request, user, form)``; a plain function runs in a worker thread
    (its database work must not stall the server), a coroutine function on the loop.
    """

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            state = state_of(request)
            if not await run_in_threadpool(admin_exists, engine=state.engine):
                return render(request, "off.html", status=503)
            user = await run_in_threadpool(_session_user, request)
            if isinstance(user, str):
                if request.headers.get("x-console-fragment"):
                    return Response(says("auth", "expired"), status_code=401)
                suffix = "?expired=1" if user == "expired" else ""
                return redirect(f"/login{suffix}")
            if role == "admin" and user.role != "admin":
                return render(request, "forbidden.html", user=user, status=403)
            form = await _form(request, state)
            if request.method == "POST" and not _csrf_ok(request, form):
                return render(request, "csrf.html", user=user, status=403)
            if inspect.iscoroutinefunction(handler):
                return await handler(request, user, form)
            return await run_in_threadpool(handler, request, user, form)

        return endpoint

    return wrap


# ---------------------------------------------------------------------- sign-in


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login_page(request: Request) -> Response:
    state = state_of(request)
    if not await run_in_threadpool(admin_exists, engine=state.engine):
        return render(request, "off.html", status=503)
    notice = says("auth", "expired") if request.query_params.get("expired") else None
    return render(request, "login.html", notice=notice)


async def login(request: Request) -> Response:
    """Check the CSRF token, the rate limit and the password; start a fresh session."""
    state = state_of(request)
    if not await run_in_threadpool(admin_exists, engine=state.engine):
        return render(request, "off.html", status=503)
    form = await request.form(max_files=0, max_fields=10)
    if not _csrf_ok(request, form):
        return render(request, "csrf.html", status=403)
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    address = _client(request)
    if state.limiter.blocked(address, name):
        minutes = state.limiter.minutes_left(address, name)
        error = says("auth", "rate_limited", minutes=minutes)
        return render(request, "login.html", error=error, name=name, status=429)
    user = await run_in_threadpool(
        check_password, engine=state.engine, name=name, password=password
    )
    if user is None:
        state.limiter.failed(address, name)
        error = says("auth", "wrong_password")
        return render(request, "login.html", error=error, name=name, status=401)
    state.limiter.succeeded(address, name)
    request.session.clear()  # a new session id and token after sign-in (no fixation)
    request.session.update(
        user=user.name,
        issued=int(state.clock().timestamp()),
        conv=secrets.token_hex(8),
        csrf=secrets.token_urlsafe(32),
    )
    return redirect("/")


async def logout(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    if not _csrf_ok(request, form):
        return render(request, "csrf.html", status=403)
    request.session.clear()
    flash(request, says("auth", "signed_out"))
    return redirect("/login")


# ---------------------------------------------------------------------- the app


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(PACKAGE_DIR / "templates"))
    templates.env.filters["urlquote"] = lambda value: quote(str(value), safe="")
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    return templates


def console_app(
    dialogue: Dialogue,
    settings: Settings,
    *,
    console: ConsoleSettings | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Starlette:
    """The console as its own Starlette app (its own session middleware), for mounting."""
    from bot.console import pages

    console = console or get_console_settings()
    secret = console.secret_key.get_secret_value() if console.secret_key else None
    key = signing_key(engine=dialogue.engine, configured=secret)
    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        *pages.routes(),
        Mount("/static", StaticFiles(directory=str(PACKAGE_DIR / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=key,
                session_cookie=COOKIE_NAME,
                max_age=round(console.session_hours * 3600),
                path=PREFIX,
                same_site="strict",
                https_only=console.cookie_secure,
            )
        ],
    )
    app.state.console = ConsoleState(
        dialogue=dialogue,
        settings=settings,
        console=console,
        limiter=LoginLimiter(console.login_attempts, console.login_window_minutes * 60),
        templates=_templates(),
        clock=clock,
    )
    return app


def console_mount(dialogue: object, settings: Settings) -> Mount:
    """``/console`` for ``policybot serve``: the web console over the same dialogue core.

    A stand-in core (a channel test's) has no corpus or log to show: the console says so.
    """
    if not isinstance(dialogue, Dialogue):
        return Mount(PREFIX, app=Response(status_code=503))
    return Mount(PREFIX, app=console_app(dialogue, settings))
