"""The ``policybot`` command's documentation lives in the repository and lists every command."""

from __future__ import annotations

import re
from pathlib import Path

from bot.cli import _HANDLERS, build_parser

ROOT = Path(__file__).resolve().parents[3]


def test_readme_links_the_contract_inside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+\.md)\)", readme)
    assert "docs/contract.md" in links
    assert all((ROOT / link).is_file() for link in links), links
    assert "../shared" not in readme, "a fresh clone has no ../shared"


def test_every_command_and_flag_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    for command in _HANDLERS:
        assert f"`policybot {command}" in readme, command
        assert f"`policybot {command}" in contract, command
    for flag in ("--admin", "--since", "--csv", "--all"):
        assert flag in readme and flag in contract, flag


def test_admin_switches_parse() -> None:
    parser = build_parser()
    assert parser.parse_args(["chat", "--admin"]).admin
    assert not parser.parse_args(["chat"]).admin
    assert parser.parse_args(["ask", "--admin", "--jsonl"]).admin
