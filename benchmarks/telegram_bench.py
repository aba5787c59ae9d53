"""Telegram channel figures: update → sendMessage latency, and webhook throughput.

1. Latency (polling): the real python-telegram-bot client polls the stand-in Bot API server
   (tests/fakes/telegram_api.py) on 127.0.0.1; each question is queued as an update and timed
   until the bot's sendMessage for it arrives (p50/p95). Questions are the labelled ones of
   shared/eval/dev.jsonl, each from a new user (no throttling, no shared context).
2. Throughput (webhook): ``policybot serve``'s code (``bot.channels.serve.serve``) runs in a
   child process in webhook mode; this process POSTs updates to its ``/telegram`` endpoint with
   the secret header and counts updates per second until every answer has reached the stand-in
   server. Run once without Telegram's flood limiter (the process's own capacity) and once with
   it (capped near 30 messages/s by design, as Telegram allows).

Usage::

    .venv/bin/python benchmarks/telegram_bench.py [--questions 100] [--updates 400]
        [--core real|echo] [--json]

``--core real`` (default) is ``build_dialogue`` over ``seeds/`` with a temporary SQLite
database; ``--core echo`` answers at once and so measures the channel alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.serve import serve  # noqa: E402
from bot.channels.telegram import SECRET_HEADER, TelegramChannel, derived_webhook_secret  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.types import Incoming, Reply  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402

EVAL_FILE = ROOT.parent / "shared" / "eval" / "dev.jsonl"
FALLBACK_QUESTIONS = [
    "东莞5G项目能拿多少补贴？",
    "中山的数字贷贴息怎么申请？",
    "广州有哪些人才政策？",
]
WEBHOOK_URL = "https://policybot-bench.invalid/telegram"


class EchoCore:
    """A core that answers at once: isolates the channel's own cost."""

    async def handle(self, incoming: Incoming) -> Reply:
        return Reply(text=[f"收到：{incoming.text}"])


def questions() -> list[str]:
    if EVAL_FILE.exists():
        lines = EVAL_FILE.read_text(encoding="utf-8").splitlines()
        found = [json.loads(line)["question"] for line in lines if line.strip()]
        if found:
            return found
    return FALLBACK_QUESTIONS


def build_core(kind: str, database_url: str) -> Any:
    if kind == "echo":
        return EchoCore()
    from bot.app import build_dialogue

    return build_dialogue(
        Settings(_env_file=None, database_url=database_url, corpus_dir=ROOT / "seeds")  # type: ignore[call-arg]
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure_latency(core_kind: str, count: int, folder: Path) -> dict[str, float]:
    """Sequential questions through polling; seconds from queued update to sendMessage."""
    core = build_core(core_kind, f"sqlite:///{folder / 'latency.db'}")
    asked = questions()
    latencies: list[float] = []
    async with FakeTelegramAPI() as api:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            telegram_bot_token=api.token,
            telegram_base_url=api.base_url,
        )
        channel = TelegramChannel(core, settings, poll_timeout=10)
        await channel.start()
        try:
            for index in range(count):
                user = 10_000 + index
                started = time.perf_counter()
                api.message(asked[index % len(asked)], user_id=user)
                [sent] = await api.wait_for("sendMessage", chat_id=user, timeout=60)
                latencies.append(sent.at - started)
        finally:
            await channel.stop()
    return {
        "questions": count,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


async def measure_webhook(
    core_kind: str, count: int, folder: Path, *, limiter: bool, concurrency: int = 32
) -> dict[str, float]:
    """Updates per second one serving process sustains, answers delivered included."""
    asked = questions()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with FakeTelegramAPI() as api:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_BASE_URL": api.base_url,
            "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL,
            "DATABASE_URL": f"sqlite:///{folder / f'webhook-{limiter}.db'}",
            "CORPUS_DIR": str(ROOT / "seeds"),
            "HOST": "127.0.0.1",
            "PORT": str(port),
        }
        env.pop("TELEGRAM_WEBHOOK_SECRET", None)
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--child",
            core_kind,
            *([] if limiter else ["--no-limiter"]),
            env=env,
            cwd=folder,
        )
        try:
            await api.wait_for("setWebhook", timeout=180)
            secret = {SECRET_HEADER: derived_webhook_secret(api.token)}
            updates = []
            for index in range(count):
                update = api.message_update(asked[index % len(asked)], user_id=50_000 + index)
                updates.append({"update_id": index + 1, **update})
            gate = asyncio.Semaphore(concurrency)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

                async def post(update: dict[str, Any]) -> int:
                    async with gate:
                        response = await client.post("/telegram", json=update, headers=secret)
                        return response.status_code

                child_cpu = cpu_seconds(child.pid)
                parent_cpu = time.process_time()
                started = time.perf_counter()
                statuses = await asyncio.gather(*(post(update) for update in updates))
                accepted = time.perf_counter()
                await api.wait_for("sendMessage", count=count, timeout=600)
                finished = time.perf_counter()
                child_cpu = cpu_seconds(child.pid) - child_cpu
                parent_cpu = time.process_time() - parent_cpu
        finally:
            child.terminate()
            await child.wait()
    return {
        "updates": count,
        "rate_limiter": limiter,
        "http_200": sum(1 for status in statuses if status == 200),
        "accepted_per_second": round(count / (accepted - started), 1),
        "answered_per_second": round(count / (finished - started), 1),
        "serving_process_cpu": round(child_cpu / (finished - started), 2),
        "benchmark_process_cpu": round(parent_cpu / (finished - started), 2),
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(core_kind: str, limiter: bool) -> int:
    """The serving process of the webhook benchmark (what ``policybot serve`` runs)."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    core = build_core(core_kind, settings.database_url)
    return asyncio.run(serve(core, settings, ["telegram"], rate_limited=limiter))


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        latency = await measure_latency(args.core, args.questions, folder)
        capacity = await measure_webhook(args.core, args.updates, folder, limiter=False)
        limited = await measure_webhook(args.core, args.limited_updates, folder, limiter=True)
    return {"core": args.core, "latency": latency, "webhook": [capacity, limited]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--updates", type=int, default=400)
    parser.add_argument("--limited-updates", type=int, default=150)
    parser.add_argument("--core", choices=["real", "echo"], default="real")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=["real", "echo"], help=argparse.SUPPRESS)
    parser.add_argument("--no-limiter", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(args.child, limiter=not args.no_limiter)
    result = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    latency = result["latency"]
    print(f"core: {result['core']}")
    print(
        f"update → sendMessage (polling, {latency['questions']} questions): "
        f"p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms, max {latency['max_ms']} ms"
    )
    for run in result["webhook"]:
        limiter = "with AIORateLimiter" if run["rate_limiter"] else "without rate limiter"
        print(
            f"webhook, {run['updates']} updates, {limiter}: "
            f"accepted {run['accepted_per_second']}/s,"
            f" answered {run['answered_per_second']}/s ({run['http_200']} × HTTP 200; CPU: "
            f"serving process {run['serving_process_cpu']}, "
            f"stand-in + client {run['benchmark_process_cpu']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
