"""The web console driven in a real browser (Debian's chromium through Playwright), against
``policybot serve`` with the real dialogue core over a copy of the seeds."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner

from bot.console.app import COOKIE_NAME
from bot.console.auth import signing_key
from tests.bot.console.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    STAFF,
    STAFF_PASSWORD,
    RunningConsole,
)
from tests.fakes.published import NOTICE

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

QUESTION = "东莞5G项目能拿多少补贴？"
CITED_NUMBER = "东工信函〔2021〕169号"
REFUSED = "火星移民签证怎么办理？"


@pytest.fixture
def page(browser, console_server: RunningConsole):  # type: ignore[no-untyped-def]
    """A fresh browser context (no cookies) at 1280 px; closed after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    origin = console_server.url.rsplit("/console", 1)[0]
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def sign_in(page, console: RunningConsole, name: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{console.url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{console.url}/")


def compact(text: str) -> str:
    return "".join(text.split())


def ask(page, text: str) -> object:  # type: ignore[no-untyped-def]
    """Type a question, press Enter, and return the new exchange once it is there."""
    before = page.locator(".exchange").count()
    page.fill("#question", text)
    page.press("#question", "Enter")
    exchange = page.locator(".exchange").nth(before)
    exchange.wait_for()
    return exchange


# ---------------------------------------------------------------------- asking


def test_sign_in_ask_follow_up_whole_clause_and_copy(page, console_server):  # type: ignore[no-untyped-def]
    sign_in(page, console_server, STAFF, STAFF_PASSWORD)

    first = ask(page, QUESTION)

    assert first.locator(".question").inner_text() == QUESTION
    answers = first.locator(".answer")
    assert answers.count() >= 1
    assert CITED_NUMBER in first.inner_text()
    passage = answers.first.locator(".passage-text")
    assert not passage.is_visible()
    answers.first.locator("summary").click()  # the whole clause on click
    assert passage.is_visible()
    excerpt = answers.first.locator(".excerpt").inner_text()
    assert (
        passage.inner_text().replace("\n", "")[:4] in excerpt.replace("\n", "")
        or passage.inner_text()
    )

    answers.first.locator("button.copy").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    citation = answers.first.locator(".citation").inner_text()
    assert copied.startswith("「") and citation.removeprefix("—— ") in copied
    assert "已复制" in answers.first.locator("button.copy").inner_text()

    switched = ask(page, "那中山呢？")  # a follow-up: same topic, another place
    assert "中山" in switched.locator(".reply").inner_text()
    assert page.locator(".exchange").count() == 2


def test_more_button_shows_further_answers(page, console_server):  # type: ignore[no-untyped-def]
    sign_in(page, console_server, STAFF, STAFF_PASSWORD)
    first = ask(page, QUESTION)
    more = first.locator("button.chip", has_text="更多")
    if more.count() == 0:
        pytest.fail(
            "the first reply offers no 更多 button: the seeds answer with more than one page"
        )
    shown = first.locator(".answer .num").all_inner_texts()
    more.click()
    second = page.locator(".exchange").nth(1)
    second.wait_for()
    numbers = second.locator(".answer .num").all_inner_texts()
    assert numbers and int(numbers[0]) == len(shown) + 1


# ---------------------------------------------------------------------- lookups


def test_admin_runs_adds_edits_renames_and_deletes_a_lookup(page, console_server):  # type: ignore[no-untyped-def]
    sign_in(page, console_server, ADMIN, ADMIN_PASSWORD)
    page.goto(f"{console_server.url}/lookups")
    page.locator("button.run").first.click()  # one click runs it
    page.wait_for_url(f"{console_server.url}/ask")
    assert page.locator(".exchange .reply").count() == 1

    page.goto(f"{console_server.url}/lookups")
    form = page.locator("#new-lookup")
    form.locator("input[name=name]").fill("东莞5G补贴测试")
    form.locator("input[name=question]").fill("东莞5G项目能拿多少补贴？")
    form.locator("button").click()
    assert "已保存常用查询「东莞5G补贴测试」" in page.locator(".flash").inner_text()

    lookup = page.locator(".lookup[data-name='东莞5G补贴测试']")
    lookup.locator("summary").click()
    lookup.locator("input[name=name]:not([type=hidden])").fill("东莞5G资助")
    lookup.locator("input[name=question]").fill("东莞5G基站建设有什么资助？")
    lookup.locator("button.primary").click()
    assert "已将「东莞5G补贴测试」改名为「东莞5G资助」" in page.locator(".flash").inner_text()
    assert page.locator(".lookup[data-name='东莞5G补贴测试']").count() == 0
    renamed = page.locator(".lookup[data-name='东莞5G资助']")
    assert renamed.locator("button.run").get_attribute("title") == "东莞5G基站建设有什么资助？"

    renamed.locator("summary").click()
    renamed.locator("button.danger").click()
    assert "已删除常用查询「东莞5G资助」" in page.locator(".flash").inner_text()
    assert page.locator(".lookup[data-name='东莞5G资助']").count() == 0

    page.goto(f"{console_server.url}/audit")
    log = page.locator("table.audit").inner_text()
    assert "改名常用查询" in log and "删除常用查询" in log and ADMIN in log


# ---------------------------------------------------------------------- documents


def test_admin_uploads_previews_and_confirms_a_document(page, console_server, tmp_path: Path):  # type: ignore[no-untyped-def]
    sign_in(page, console_server, ADMIN, ADMIN_PASSWORD)
    page.goto(f"{console_server.url}/documents")
    before = page.locator("table.documents tbody tr").count()
    notice = tmp_path / "科技创新奖励办法.txt"
    notice.write_text(NOTICE, encoding="utf-8")

    page.set_input_files("#upload input[type=file]", str(notice))
    page.locator("#upload button").click()

    preview = page.locator("main .card").inner_text()
    assert "文号：东工信〔2024〕12号" in preview
    assert not (console_server.corpus_dir / notice.name).exists()  # nothing changes before 加入
    page.locator("main .card form button").first.click()
    page.wait_for_url(f"{console_server.url}/documents")
    assert (console_server.corpus_dir / notice.name).exists()
    assert page.locator("table.documents tbody tr").count() == before + 1
    page.locator("table.documents a", has_text="科技创新奖励办法").click()
    card = page.locator("main").inner_text()
    assert "东工信〔2024〕12号" in card and "奖励标准" in card

    page.goto(f"{console_server.url}/documents?q=东工信〔2024〕12号")
    assert page.locator("table.documents tbody tr").count() == 1


# ---------------------------------------------------------------------- review, CSV, stats


def test_a_refused_question_becomes_a_lookup_and_is_exported(page, console_server, tmp_path):  # type: ignore[no-untyped-def]
    sign_in(page, console_server, ADMIN, ADMIN_PASSWORD)
    refused = ask(page, REFUSED)
    assert refused.locator(".answer").count() == 0

    page.goto(f"{console_server.url}/unanswered")
    item = page.locator("section.item", has_text=REFUSED)
    assert item.count() == 1
    item.locator(".to-lookup summary").click()
    item.locator("input[name=name]").fill("东莞5G问答")
    item.locator("input[name=question]").fill(QUESTION)
    item.locator("button.primary").click()
    page.wait_for_url(f"{console_server.url}/unanswered")
    assert "已保存常用查询「东莞5G问答」" in page.locator(".flash").inner_text()
    page.goto(f"{console_server.url}/lookups")
    assert page.locator(".lookup[data-name='东莞5G问答']").count() == 1

    page.goto(f"{console_server.url}/unanswered")
    with page.expect_download() as download_info:
        page.locator("a.button", has_text="导出 CSV").click()
    exported = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    header = exported.splitlines()[0].split(",")
    assert header[:5] == ["id", "created_at", "channel", "user_id", "text"]
    assert REFUSED in exported and ",web," in exported

    page.locator("section.item", has_text=REFUSED).locator("button", has_text="文件中没有").click()
    assert page.locator("section.item", has_text=REFUSED).count() == 0
    page.goto(f"{console_server.url}/unanswered?marked=1")
    assert page.locator("section.item", has_text=REFUSED).count() == 1


def test_stats_page_draws_the_chart(page, console_server):  # type: ignore[no-untyped-def]
    sign_in(page, console_server, STAFF, STAFF_PASSWORD)
    ask(page, QUESTION)
    page.goto(f"{console_server.url}/stats?days=7")
    asked = int(page.locator(".figure b").first.inner_text())
    assert asked >= 1
    heights = page.locator("svg.chart.days rect.answered").evaluate_all(
        "rects => rects.map(r => parseFloat(r.getAttribute('height')))"
    )
    assert max(heights) > 0
    assert page.locator("svg.chart.bars rect.bar").count() >= 1
    page.goto(f"{console_server.url}/stats?days=30")
    assert page.locator("svg.chart.days rect.answered").count() == 30


# ---------------------------------------------------------------------- refusals


def test_staff_is_refused_admin_pages_and_actions(page, console_server):  # type: ignore[no-untyped-def]
    sign_in(page, console_server, STAFF, STAFF_PASSWORD)
    response = page.goto(f"{console_server.url}/audit")
    assert response.status == 403 and "仅限管理员" in page.inner_text("main")
    page.goto(f"{console_server.url}/lookups")
    assert page.locator("#new-lookup").count() == 0 and page.locator("details.edit").count() == 0
    status = page.evaluate(
        """async (url) => {
            const csrf = document.querySelector("input[name=csrf]").value;
            const body = new URLSearchParams({csrf, name: "偷偷加的", question: "东莞有什么补贴"});
            return (await fetch(url, {method: "POST", body})).status;
        }""",
        f"{console_server.url}/lookups/save",
    )
    assert status == 403
    page.goto(f"{console_server.url}/lookups")
    assert page.locator(".lookup[data-name='偷偷加的']").count() == 0


def test_wrong_password_is_refused(page, console_server):  # type: ignore[no-untyped-def]
    page.goto(f"{console_server.url}/login")
    page.fill("input[name=name]", ADMIN)
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert "用户名或密码不正确" in page.inner_text("main")
    response = page.goto(f"{console_server.url}/stats")
    assert response.url.endswith("/console/login")


def test_a_form_without_its_csrf_token_is_refused(page, console_server):  # type: ignore[no-untyped-def]
    sign_in(page, console_server, ADMIN, ADMIN_PASSWORD)
    page.goto(f"{console_server.url}/lookups")
    form = page.locator("#new-lookup")
    form.locator("input[name=name]").fill("无令牌")
    form.locator("input[name=question]").fill("东莞有什么补贴？")
    form.locator("input[name=csrf]").evaluate("input => input.remove()")
    form.locator("button").click()
    assert "安全令牌" in page.inner_text("main")
    page.goto(f"{console_server.url}/lookups")
    assert page.locator(".lookup[data-name='无令牌']").count() == 0


def test_an_expired_session_is_refused(page, console_server):  # type: ignore[no-untyped-def]
    """A correctly signed cookie whose sign-in is older than CONSOLE_SESSION_HOURS."""
    import time

    key = signing_key(engine=console_server.dialogue.engine, configured=None)
    session = {"user": ADMIN, "issued": int(time.time()) - 13 * 3600, "csrf": "x", "conv": "c"}
    payload = base64.b64encode(json.dumps(session).encode())
    cookie = TimestampSigner(key).sign(payload).decode()
    page.context.add_cookies(
        [{"name": COOKIE_NAME, "value": cookie, "url": console_server.url + "/"}]
    )
    response = page.goto(f"{console_server.url}/documents")
    assert "/console/login" in response.url
    assert "登录已过期" in page.inner_text("main")

    fresh = dict(session, issued=int(time.time()))  # the same cookie, signed in just now: in
    cookie = TimestampSigner(key).sign(base64.b64encode(json.dumps(fresh).encode())).decode()
    page.context.add_cookies(
        [{"name": COOKIE_NAME, "value": cookie, "url": console_server.url + "/"}]
    )
    page.goto(f"{console_server.url}/documents")
    assert page.locator("table.documents").count() == 1
