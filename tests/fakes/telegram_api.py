"""A stand-in Telegram Bot API server on 127.0.0.1, for driving the real python-telegram-bot.

It speaks enough of the Bot API for a bot that polls or takes webhooks and answers in HTML:
getMe, getUpdates (long poll with offsets), sendMessage, editMessageText,
editMessageReplyMarkup, answerCallbackQuery, setMyCommands, deleteWebhook, setWebhook,
getWebhookInfo, sendChatAction. Every call is recorded; tests queue updates with the helpers
(``message``, ``command``, ``press``, ``sticker``, ...) and wait for the bot's calls::

    async with FakeTelegramAPI() as api:
        settings = Settings(telegram_bot_token=api.token, telegram_base_url=api.base_url)
        ...
        api.message("东莞5G项目能拿多少补贴？", user_id=7)
        [sent] = await api.wait_for("sendMessage", chat_id=7)

It runs uvicorn as a task on the caller's event loop, so there are no threads to coordinate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijkl"
BOT_ID = 123456789
BOT_USERNAME = "policy_helper_bot"
MESSAGE_LIMIT = 4096
TELEGRAM_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler"}
    | {"a", "code", "pre", "blockquote", "tg-emoji"}
)
_BARE_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")
# request fields that carry JSON inside a form field
_JSON_FIELDS = {
    "reply_markup",
    "commands",
    "allowed_updates",
    "link_preview_options",
    "reply_parameters",
    "entities",
    "scope",
}


@dataclass(slots=True)
class Call:
    """One Bot API request the bot made: its method and decoded parameters."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of the inline keyboard, row by row flattened."""
        markup = self.params.get("reply_markup") or {}
        return [
            (button["text"], button.get("callback_data", ""))
            for row in markup.get("inline_keyboard", [])
            for button in row
        ]


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the test runner keeps its signals
        yield


class FakeTelegramAPI:
    """The stand-in server and the test's handle on it."""

    def __init__(self, *, token: str = TOKEN) -> None:
        self.token = token
        self.bot_user = {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "惠企政策助手",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.accepted: list[Call] = []  # calls answered ok
        self.commands: list[dict[str, str]] = []
        self.webhook: dict[str, Any] = {"url": "", "secret_token": None}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._next_message_id = 1000
        self._chats: dict[int, dict[str, Any]] = {}
        self._waiters: list[asyncio.Future[None]] = []  # woken on every call and update
        self._closing = asyncio.Event()
        self._failures: dict[str, list[dict[str, Any]]] = {}
        self.files: dict[str, bytes] = {}  # file_id -> bytes, served by getFile and /file/bot…
        self.downloads: list[str] = []  # file paths downloaded, in order
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    # ------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def __aenter__(self) -> FakeTelegramAPI:
        # IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted sockets (no 40 ms stalls)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._file, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(
            app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=1
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve([sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()
        self._notify()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    def _notify(self) -> None:
        """Wake everyone waiting for a change (a recorded call, a queued update, closing)."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _next_change(self, timeout: float) -> None:
        """Wait for the next ``_notify``; callers check their condition just before, with no
        await in between, so a change can never slip through unseen (unlike Event.clear)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    # ------------------------------------------------------------ the Bot API
    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.path_params["method"]
        params = await _params(request)
        self.calls.append(Call(method, params))
        self._notify()
        planned = self._failures.get(method)
        if planned:
            failure = planned.pop(0)
            return JSONResponse({"ok": False, **failure}, status_code=failure["error_code"])
        handler: Callable[[dict[str, Any]], Any] | None = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        result = handler(params)
        if asyncio.iscoroutine(result):
            result = await result
        if isinstance(result, JSONResponse):
            return result
        self.accepted.append(Call(method, params))
        return JSONResponse({"ok": True, "result": result})

    async def _file(self, request: Request) -> Response:
        """The file download of the Bot API: ``/file/bot<token>/<file_path>``."""
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        path = request.path_params["path"]
        file_id = path.rsplit("/", 1)[-1]
        if file_id not in self.files:
            return _error(404, "Not Found: file not found")
        self.downloads.append(path)
        self._notify()
        return Response(self.files[file_id], media_type="application/octet-stream")

    def _api_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id") or "")
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(self.files[file_id]),
            "file_path": f"documents/{file_id}",
        }

    def _api_getMe(self, _params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook["url"]:
            return _error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._updates and not self._closing.is_set():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await self._next_change(remaining)
        return self._updates[:limit]

    def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        problem = check_message_text(params)
        if problem:
            return _error(400, f"Bad Request: {problem}")
        return self._bot_message(params)

    def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        problem = check_message_text(params)
        if problem:
            return _error(400, f"Bad Request: {problem}")
        return self._bot_message(params, message_id=int(params["message_id"]))

    def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._bot_message(
            {**params, "text": "(edited)"}, message_id=int(params["message_id"])
        )

    def _api_answerCallbackQuery(self, _params: dict[str, Any]) -> bool:
        return True

    def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands = list(params.get("commands") or [])
        return True

    def _api_deleteWebhook(self, _params: dict[str, Any]) -> bool:
        self.webhook = {"url": "", "secret_token": None}
        return True

    def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {"url": params.get("url", ""), "secret_token": params.get("secret_token")}
        return True

    def _api_getWebhookInfo(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": 0 if self.webhook["url"] else len(self._updates),
        }

    def _api_sendChatAction(self, _params: dict[str, Any]) -> bool:
        return True

    def _bot_message(self, params: dict[str, Any], message_id: int | None = None) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        if message_id is None:
            self._next_message_id += 1
            message_id = self._next_message_id
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chats.get(chat_id, {"id": chat_id, "type": "private"}),
            "from": self.bot_user,
            "text": params.get("text", ""),
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    # ------------------------------------------------------------ test helpers
    def fail_next(self, method: str, *, error_code: int, description: str, **extra: Any) -> None:
        """The next call of ``method`` fails, e.g. 429 with ``parameters={"retry_after": 1}``."""
        self._failures.setdefault(method, []).append(
            {"error_code": error_code, "description": description, **extra}
        )

    def enqueue(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (``update_id`` is filled in) for the next getUpdates."""
        update = {**update, "update_id": self._next_update_id}
        self._next_update_id += 1
        self._updates.append(update)
        self._notify()
        return update

    def user(self, user_id: int) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"用户{user_id}",
            "language_code": "zh-hans",
        }

    def chat(self, chat_id: int, chat_type: str = "private") -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = f"用户{chat_id}"
        else:
            chat["title"] = "东莞企业服务群"
        self._chats[chat_id] = chat
        return chat

    def message_update(
        self,
        text: str | None = None,
        *,
        user_id: int = 1001,
        chat_id: int | None = None,
        chat_type: str = "private",
        entities: list[dict[str, Any]] | None = None,
        reply_to_bot: bool = False,
        edited: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An update carrying a message (not queued: for webhook posts and ``enqueue``)."""
        self._next_message_id += 1
        message: dict[str, Any] = {
            "message_id": self._next_message_id,
            "date": int(time.time()),
            "chat": self.chat(chat_id if chat_id is not None else user_id, chat_type),
            "from": self.user(user_id),
            **(extra or {}),
        }
        if text is not None:
            message["text"] = text
        if entities:
            message["entities"] = entities
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": self._next_message_id - 1,
                "date": int(time.time()),
                "chat": message["chat"],
                "from": self.bot_user,
                "text": "（机器人之前的回答）",
            }
        if edited:
            message["edit_date"] = int(time.time())
            return {"edited_message": message}
        return {"message": message}

    def message(self, text: str, **kwargs: Any) -> dict[str, Any]:
        """Queue a text message from a person."""
        return self.enqueue(self.message_update(text, **kwargs))

    def command(self, text: str, **kwargs: Any) -> dict[str, Any]:
        """Queue a command (``/lookup 东莞5G补贴``) with its bot_command entity, like Telegram."""
        length = len(text.split(maxsplit=1)[0].encode("utf-16-le")) // 2
        entity = {"type": "bot_command", "offset": 0, "length": length}
        return self.enqueue(self.message_update(text, entities=[entity], **kwargs))

    def sticker(self, **kwargs: Any) -> dict[str, Any]:
        sticker = {
            "file_id": "CAACAgIAAxkBAAEFakeSticker",
            "file_unique_id": "AgADFakeSticker",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self.enqueue(self.message_update(None, extra={"sticker": sticker}, **kwargs))

    def document(
        self, file_name: str, data: bytes, *, declared_size: int | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Queue a file sent to the bot (a Telegram document); getFile then serves its bytes."""
        file_id = f"BQACAgFakeDoc{len(self.files) + 1}"
        self.files[file_id] = data
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": file_name,
            "mime_type": "application/octet-stream",
            "file_size": len(data) if declared_size is None else declared_size,
        }
        return self.enqueue(self.message_update(None, extra={"document": document}, **kwargs))

    def press_update(
        self,
        data: str,
        *,
        user_id: int = 1001,
        chat_id: int | None = None,
        chat_type: str = "private",
        on: Call | None = None,
    ) -> dict[str, Any]:
        """An update for a button press on a message the bot sent (``on``), not queued."""
        chat_id = chat_id if chat_id is not None else user_id
        message: dict[str, Any] = {
            "message_id": 1,
            "date": int(time.time()),
            "chat": self.chat(chat_id, chat_type),
            "from": self.bot_user,
            "text": on.text if on else "（机器人之前的回答）",
        }
        if on is not None and on.params.get("reply_markup"):
            message["reply_markup"] = on.params["reply_markup"]
        return {
            "callback_query": {
                "id": f"cq{time.perf_counter_ns()}",
                "from": self.user(user_id),
                "chat_instance": f"ci{chat_id}",
                "data": data,
                "message": message,
            }
        }

    def press(self, data: str, **kwargs: Any) -> dict[str, Any]:
        """Queue a button press carrying ``data`` (the button's callback_data)."""
        return self.enqueue(self.press_update(data, **kwargs))

    def accepted_of(self, method: str, **where: Any) -> list[Call]:
        """The calls of ``method`` that were answered ok (a refused call is not "sent")."""
        return [
            call
            for call in self.accepted
            if call.method == method
            and all(str(call.params.get(key)) == str(value) for key, value in where.items())
        ]

    def calls_of(self, method: str, **where: Any) -> list[Call]:
        """Recorded calls of ``method`` whose parameters match ``where`` (compared as text)."""
        return [
            call
            for call in self.calls
            if call.method == method
            and all(str(call.params.get(key)) == str(value) for key, value in where.items())
        ]

    async def wait_for(
        self, method: str, *, count: int = 1, timeout: float = 20.0, **where: Any
    ) -> list[Call]:
        """Wait until at least ``count`` matching calls were made; returns them all.

        ``timeout`` is only a safety net so that a broken bot fails the test instead of hanging.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.calls_of(method, **where)
            if len(found) >= count:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [(call.method, call.params.get("text")) for call in self.calls[-10:]]
                raise AssertionError(
                    f"{count} × {method} {where} not seen; {len(found)} were. Last: {seen}"
                )
            await self._next_change(remaining)


class _TelegramHTML(HTMLParser):
    """Telegram's HTML rules: only its tags, properly nested; collects the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.visible: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            self.problem = self.problem or f'can\'t parse entities: unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problem = self.problem or f'can\'t parse entities: unexpected end tag "{tag}"'
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.visible.append(data)


def check_message_text(params: dict[str, Any]) -> str | None:
    """What Telegram would refuse in a message's text (markup, length), or ``None``."""
    text = str(params.get("text", ""))
    visible = text
    if str(params.get("parse_mode", "")).upper() == "HTML":
        if _BARE_AMPERSAND.search(text):
            return "can't parse entities: unescaped &"
        parser = _TelegramHTML()
        parser.feed(text)
        parser.close()
        if parser.problem:
            return parser.problem
        if parser.stack:
            return f'can\'t parse entities: unclosed tag "{parser.stack[-1]}"'
        visible = "".join(parser.visible)
    if not visible.strip():
        return "message text is empty"
    if len(visible.encode("utf-16-le")) // 2 > MESSAGE_LIMIT:
        return "message is too long"
    return None


async def _params(request: Request) -> dict[str, Any]:
    """Parameters from a url-encoded form or JSON body (or the query string)."""
    params: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        body = await request.body()
        if body:
            params.update(json.loads(body))
        return params
    if "application/x-www-form-urlencoded" in content_type:
        body = (await request.body()).decode("utf-8")
        for key, value in parse_qsl(body, keep_blank_values=True):
            if key in _JSON_FIELDS:
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
                    continue
            params[key] = value
    return params


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error_code": code, "description": description}, status_code=code
    )
