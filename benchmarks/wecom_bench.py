"""WeCom callback latency: a policy question through the real ``/wecom`` endpoint over HTTP.

Each round trip is what WeCom's side sees: encrypt and sign the message, POST it to the
channel served by uvicorn on 127.0.0.1, decrypt the passive reply. Every request carries a new
MsgId (a fresh answer from the dialogue core); a second series replays MsgIds to time retries,
which are answered from the ``wecom_delivery`` table without the core.

Usage::

    .venv/bin/python benchmarks/wecom_bench.py [--requests 200] [--core real|echo] [--json]

``--core real`` (default) runs ``build_dialogue`` over ``seeds/`` with a temporary SQLite
database; ``--core echo`` measures the channel alone (crypto, storage, HTTP).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.wecom import WeComChannel  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.types import Incoming, Reply  # noqa: E402
from tests.fakes import wecom_vectors as vectors  # noqa: E402
from tests.fakes.wecom_api import WeComCallbackClient  # noqa: E402

QUESTION = "东莞5G项目能拿多少补贴？"


class EchoCore:
    """A core that answers instantly: isolates the channel's own cost."""

    async def handle(self, incoming: Incoming) -> Reply:
        return Reply(text=[f"收到：{incoming.text}"])


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(samples_ms: list[float]) -> dict[str, float]:
    return {
        "n": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 0.50), 2),
        "p95_ms": round(percentile(samples_ms, 0.95), 2),
        "mean_ms": round(statistics.fmean(samples_ms), 2),
        "max_ms": round(max(samples_ms), 2),
    }


async def run(requests: int, core_kind: str, workdir: Path) -> dict[str, object]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{workdir / 'bench.db'}",
        corpus_dir=ROOT / "seeds",
        wecom_corp_id=vectors.CORP_ID,
        wecom_token=vectors.TOKEN,
        wecom_aes_key=vectors.ENCODING_AES_KEY,
    )
    if core_kind == "real":
        from bot.app import build_dialogue

        core = await asyncio.to_thread(build_dialogue, settings)
    else:
        core = EchoCore()
    channel = WeComChannel(core, settings, reply_budget_seconds=30)
    await channel.startup()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=channel.routes),
            host="127.0.0.1",
            port=0,
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            client = WeComCallbackClient(
                http, token=vectors.TOKEN, aes_key=vectors.ENCODING_AES_KEY, corp_id=vectors.CORP_ID
            )
            for warm in range(5):  # jieba, index and connections warmed up
                await client.ask(f"warm{warm}", QUESTION)
            fresh: list[float] = []
            ids: list[tuple[str, str]] = []
            cited = 0
            for number in range(requests):
                user, msg_id = f"user{number}", client.next_id()
                started = time.perf_counter()
                reply = await client.ask(user, QUESTION, msg_id)
                fresh.append((time.perf_counter() - started) * 1000)
                ids.append((user, msg_id))
                if reply is None:
                    raise RuntimeError("no passive reply within the budget")
                cited += "东工信函〔2021〕169号" in reply.content
            retries: list[float] = []
            for user, msg_id in ids:
                started = time.perf_counter()
                await client.ask(user, QUESTION, msg_id)
                retries.append((time.perf_counter() - started) * 1000)
    finally:
        server.should_exit = True
        await serving
        await channel.shutdown()
    return {
        "core": core_kind,
        "question": QUESTION,
        "cited_replies": cited,
        "callback": summary(fresh),
        "retry": summary(retries),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--core", choices=["real", "echo"], default="real")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = asyncio.run(run(args.requests, args.core, Path(workdir)))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(f"WeCom callback, {args.core} core, question {QUESTION}")
    for name in ("callback", "retry"):
        figures = result[name]
        assert isinstance(figures, dict)
        print(
            f"  {name:8s} n={figures['n']}  p50 {figures['p50_ms']} ms  "
            f"p95 {figures['p95_ms']} ms  mean {figures['mean_ms']} ms  max {figures['max_ms']} ms"
        )
    print(f"  replies citing 东工信函〔2021〕169号: {result['cited_replies']}/{args.requests}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
