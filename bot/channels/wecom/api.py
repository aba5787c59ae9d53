"""WeCom (企业微信) server API for active sends: gettoken and message/send.

Passive replies only work within WeCom's 5-second callback window; anything later (slow answers,
overflow) goes through ``message/send``. The access token is cached until it expires and
refreshed when WeCom says it is stale (42001 expired, 40014 invalid, 40001 bad credential).
Neither the token nor the secret ever reaches a log: httpx logs request URLs at INFO, so a filter
on its logger blanks them out.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import httpx
from pydantic import SecretStr

from bot.settings import Settings

log = logging.getLogger(__name__)

# errcodes after which a fresh token is fetched and the send retried once
STALE_TOKEN_ERRCODES = frozenset({42001, 40014, 40001})
_TOKEN_MARGIN_SECONDS = 60.0  # refresh a little early rather than be refused mid-send
_SECRET_IN_URL = re.compile(r"(access_token|corpsecret)=[^&\s\"']+")


def redact(text: str) -> str:
    """``text`` with every access token and corp secret in a URL replaced by ``***``."""
    return _SECRET_IN_URL.sub(r"\1=***", text)


class _RedactUrlSecrets(logging.Filter):
    """Blanks tokens and secrets out of httpx's request log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact(str(arg)) if isinstance(arg, str | httpx.URL) else arg for arg in record.args
            )
        record.msg = redact(str(record.msg))
        return True


def _install_log_filter() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(existing, _RedactUrlSecrets) for existing in httpx_logger.filters):
        httpx_logger.addFilter(_RedactUrlSecrets())


_install_log_filter()


class WeComApiError(Exception):
    """WeCom answered with a non-zero errcode (or not with JSON at all)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeCom API error {errcode}: {redact(errmsg)}")
        self.errcode = errcode
        self.errmsg = redact(errmsg)


class WeComApi:
    """An access-token-caching client for the WeCom API calls the channel needs (send, media)."""

    def __init__(
        self,
        *,
        base_url: str,
        corp_id: str,
        secret: SecretStr,
        agent_id: str,
        client: httpx.AsyncClient | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._corp_id = corp_id
        self._secret = secret
        self._agent_id = int(agent_id)
        self._client = client
        self._owns_client = client is None
        self._timeout = timeout_seconds
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = asyncio.Lock()

    @property
    def agent_id(self) -> int:
        return self._agent_id

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    async def access_token(self, *, refresh: bool = False) -> str:
        """The cached token, fetched from gettoken when missing, expired or known stale."""
        async with self._token_lock:
            if not refresh and self._token and time.monotonic() < self._token_expires_at:
                return self._token
            data = await self._call(
                "GET",
                "/cgi-bin/gettoken",
                params={"corpid": self._corp_id, "corpsecret": self._secret.get_secret_value()},
            )
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeComApiError(-1, "gettoken answered without an access_token")
            expires_in = float(data.get("expires_in") or 7200)
            self._token = token
            self._token_expires_at = time.monotonic() + max(expires_in - _TOKEN_MARGIN_SECONDS, 0)
            return token

    async def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST message/send with ``agentid`` filled in; one refresh-and-retry on a stale token."""
        body = {"agentid": self._agent_id, **payload}
        token = await self.access_token()
        try:
            return await self._call(
                "POST", "/cgi-bin/message/send", params={"access_token": token}, json=body
            )
        except WeComApiError as error:
            if error.errcode not in STALE_TOKEN_ERRCODES:
                raise
            log.info("WeCom access token refused (errcode %s); fetching a new one", error.errcode)
        async with self._token_lock:
            if self._token == token:  # nobody refreshed it meanwhile
                self._token = None
        token = await self.access_token()
        return await self._call(
            "POST", "/cgi-bin/message/send", params={"access_token": token}, json=body
        )

    async def send_text(self, user_id: str, content: str) -> dict[str, Any]:
        return await self.send({"touser": user_id, "msgtype": "text", "text": {"content": content}})

    async def send_markdown(self, user_id: str, content: str) -> dict[str, Any]:
        return await self.send(
            {"touser": user_id, "msgtype": "markdown", "markdown": {"content": content}}
        )

    async def media(self, media_id: str) -> bytes:
        """GET media/get: a file a person sent (WeCom answers JSON with errcode on failure)."""
        token = await self.access_token()
        try:
            response = await self._http().get(
                self._base_url + "/cgi-bin/media/get",
                params={"access_token": token, "media_id": media_id},
            )
            response.raise_for_status()
        except httpx.HTTPStatusError as error:
            raise WeComApiError(-1, f"HTTP {error.response.status_code} from media/get") from None
        except httpx.HTTPError as error:
            raise WeComApiError(-1, f"{type(error).__name__} calling media/get") from None
        if response.headers.get("content-type", "").startswith(("application/json", "text/")):
            data = response.json()
            raise WeComApiError(int(data.get("errcode") or -1), str(data.get("errmsg", "")))
        return response.content

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str],
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One API call; WeCom reports errors as JSON errcode with HTTP 200."""
        try:
            response = await self._http().request(
                method, self._base_url + path, params=params, json=json
            )
            response.raise_for_status()
            data = response.json()
        except httpx.HTTPStatusError as error:
            raise WeComApiError(-1, f"HTTP {error.response.status_code} from {path}") from None
        except httpx.HTTPError as error:
            raise WeComApiError(-1, f"{type(error).__name__} calling {path}") from None
        except ValueError:
            raise WeComApiError(-1, f"{path} answered with something other than JSON") from None
        if not isinstance(data, dict):
            raise WeComApiError(-1, f"{path} answered with unexpected JSON")
        errcode = int(data.get("errcode") or 0)
        if errcode != 0:
            raise WeComApiError(errcode, str(data.get("errmsg", "")))
        return data


def api_from_settings(settings: Settings) -> WeComApi | None:
    """The message/send client, when WECOM_SECRET and WECOM_AGENT_ID are set."""
    secret = settings.wecom_secret
    agent_id = (settings.wecom_agent_id or "").strip()
    if secret is None or not secret.get_secret_value().strip() or not agent_id.isdigit():
        log.warning("WECOM_SECRET/WECOM_AGENT_ID not set: WeCom answers only passively")
        return None
    return WeComApi(
        base_url=settings.wecom_api_base,
        corp_id=str(settings.wecom_corp_id),
        secret=secret,
        agent_id=agent_id,
    )
