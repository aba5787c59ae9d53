"""``policybot eval``: score labelled questions (JSON lines) and print the figures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.evaluation import evaluate, load_rows


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.app import build_answer_service
    from bot.settings import get_settings

    path = Path(args.file)
    try:
        rows = load_rows(path)
    except OSError as error:
        print(f"policybot eval: cannot read {path}: {error.strerror}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"policybot eval: {error}", file=sys.stderr)
        return 2
    summary = evaluate(build_answer_service(get_settings()), rows).summary()
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    _print_summary(summary)
    return 0


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    failures = summary["failures"]
    table = Table(title="PolicyBot eval", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if key != "failures":
            table.add_row(key, "-" if value is None else str(value))
    console.print(table)
    for failure in failures:
        console.print(f"[yellow]✗ {failure['id']}[/] {failure['question']}\n    {failure['top']}")
