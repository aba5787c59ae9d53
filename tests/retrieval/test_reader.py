"""The document reader: metadata, section paths, cleaning and the verbatim property."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
from itertools import pairwise
from pathlib import Path

import pytest

from retrieval.reader import (
    MAX_CLAUSE_CHARS,
    decode_policy_bytes,
    read_document,
    verbatim_key,
)
from retrieval.types import DocumentError, ParsedClause, ParsedDocument

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def seed(prefix: str) -> Path:
    return next(SEEDS.glob(f"{prefix}_*.txt"))


def all_documents() -> list[Path]:
    return sorted(SEEDS.glob("*.txt")) + sorted(p for p in FIXTURES.iterdir() if p.is_file())


@pytest.fixture(scope="module")
def documents() -> dict[str, ParsedDocument]:
    return {path.name: read_document(path) for path in all_documents()}


def clause_with(document: ParsedDocument, words: str):
    """The clause holding ``words`` (white space ignored); fails when there is not exactly one."""
    found = [c for c in document.clauses if verbatim_key(words) in verbatim_key(c.text)]
    assert len(found) == 1, f"{words!r} in {len(found)} clauses of {document.source}"
    return found[0]


# -- The seeds' metadata ---------------------------------------------------------------------

SEED_TABLE = [
    (
        "000",
        "东工信函〔2021〕134号",
        "东莞市工业和信息化局",
        dt.date(2021, 6, 9),
        "东莞",
        None,
        "关于对市政协提案《提升我市工业互联网产业应用水平打造先进制造业之都的建议》的答复",
        "谭福龙委员",
    ),
    (
        "001",
        "东工信函〔2021〕169号",
        "东莞市工业和信息化局",
        dt.date(2021, 6, 30),
        "东莞",
        None,
        "市工信局关于对东莞市政协第十三届六次会议第20210113号提案答复的函",
        "民建市委会",
    ),
    (
        "002",
        "中工信函〔2023〕59号",
        "中山市工业和信息化局",
        dt.date(2023, 6, 25),
        "中山",
        None,
        "中山市工业和信息化局关于中山市政协十三届二次会议提案第132033号答复的函",
        "民盟中山市委会",
    ),
    (
        "003",
        None,
        "宝安区工业和信息化局",
        None,
        "深圳",
        "宝安区",
        "关于《宝安区大力发展工业互联网赋能制造业转型升级的若干措施（修改稿）》的编制说明",
        None,
    ),
    (
        "004",
        None,
        "广州市工业和信息化委员会",
        dt.date(2017, 7, 14),
        "广州",
        None,
        "广州市工业和信息化委对市政协十三届一次会议第2009号委员提案的答复",
        "许若宁委员",
    ),
]


@pytest.mark.parametrize(
    ("prefix", "doc_number", "authority", "date", "city", "district", "title", "recipient"),
    SEED_TABLE,
)
def test_seed_metadata(
    prefix: str,
    doc_number: str | None,
    authority: str,
    date: dt.date | None,
    city: str,
    district: str | None,
    title: str,
    recipient: str | None,
) -> None:
    document = read_document(seed(prefix))
    assert document.doc_number == doc_number
    assert document.authority == authority
    assert document.date == date
    assert (document.city, document.district) == (city, district)
    assert document.title == title
    assert document.recipient == recipient


def test_source_text_hash_and_encoding() -> None:
    path = seed("000")
    document = read_document(path)
    assert document.source == str(path)
    assert document.text == path.read_text(encoding="utf-8")
    assert document.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert document.encoding == "utf-8"
    assert read_document(path, source="seeds/x.txt").source == "seeds/x.txt"


def test_numbers_the_body_cites_are_not_the_documents_own() -> None:
    assert (
        read_document(seed("001")).doc_number == "东工信函〔2021〕169号"
    )  # cites 东府办〔2019〕59号
    assert read_document(seed("004")).doc_number is None  # cites 穗府办[2017]1号


# -- Section paths ---------------------------------------------------------------------------

KNOWN_SECTIONS = [
    ("000", "每年预留一定比例的工业互联网标杆示范项目名额", "一、（二）一是"),
    ("000", "规划建设 5G 通信基站 4.6 万个", "二、（一）二是"),
    ("000", "已设立 9 支子基金", "二、（二）"),
    ("000", "融资租赁合同融资额的 5%", "二、（三）二是"),
    ("000", "建立白名单，实施贷款风险补偿", "二、（三）三是"),
    ("001", "每个项目最高 500 万", "一、（一）4.（2）"),
    ("001", "不超过核定投入总额的 20% 给予事后奖励", "一、（一）2.（1）"),
    ("001", "高企认定奖励 8500 万元", "一、（二）2."),
    ("001", "我们设立东莞市 2020 年科技型中小企业技术创新专项", "一、（二）4."),
    ("001", "多次赴各园区、镇（街）召开数字化转型政策宣讲会", "一、（一）4.（3）一是"),
    ("002", "免申即享", "二、（二）"),
    ("002", "A档200万元", "四、（二）一是"),
    ("002", "累计建成 5G 基站 8274 座", "三、（一）"),
    ("002", "最高不超过 40%的比例给予贴息", "二、（一）"),
    ("003", "最高5万元的消费券补贴", "三、（二）4."),
    ("003", "给予每家最高50万元资助", "三、（二）6."),
    ("003", "分别给予每项100万元、50万元、15万元的奖励", "三、（二）1."),
    ("004", "300万元人才经费资助", "五、二是"),
    ("004", "没有自行制定税收", "一、（二）"),
    ("004", "全市政府数据汇聚平台", "二、（二）一是"),
]


@pytest.mark.parametrize(("prefix", "words", "section"), KNOWN_SECTIONS)
def test_known_clause_sections(
    documents: dict[str, ParsedDocument], prefix: str, words: str, section: str
) -> None:
    document = documents[seed(prefix).name]
    assert clause_with(document, words).section == section


def test_headings_are_the_titles_above_a_clause(documents: dict[str, ParsedDocument]) -> None:
    clause = clause_with(documents[seed("001").name], "每个项目最高 500 万")
    assert clause.headings == (
        "主要做法与成效",
        "积极推进制造业数字化转型",
        "生态营造，多维度全方位构造数字化转型良好生态",
    )


def test_a_heading_alone_is_no_clause(documents: dict[str, ParsedDocument]) -> None:
    texts = {c.text for c in documents[seed("001").name].clauses}
    assert "积极推进制造业数字化转型" not in texts
    assert "主要做法与成效" not in texts


def test_an_item_with_a_lead_sentence_is_title_and_text(
    documents: dict[str, ParsedDocument],
) -> None:
    clause = clause_with(documents[seed("000").name], "出台指导性文件。出台《深入推进")
    assert clause.section == "一、（一）"
    assert clause.text.startswith("出台指导性文件。出台《")


def test_preamble_and_closing_have_no_section(documents: dict[str, ParsedDocument]) -> None:
    header, first = documents[seed("000").name].clauses[:2]
    assert header.section == "" and "东工信函〔2021〕134号" in header.text  # the header clause
    assert first.section == "" and first.text.startswith("您提出的")
    assert clause_with(documents[seed("001").name], "以上答复，供参考").section == ""
    assert clause_with(documents[seed("004").name], "非常感谢您的宝贵意见").section == ""


def test_salutation_header_and_signature_are_no_clauses(
    documents: dict[str, ParsedDocument],
) -> None:
    for name in ("000", "001", "002", "004"):
        header, *texts = [c.text for c in documents[seed(name).name].clauses]
        assert texts
        assert not any(t.endswith(("委员", "市委会")) for t in texts)
        assert not any(t.startswith(("东莞市工业和信息化局", "2021年", "2023年")) for t in texts)
        assert not header.endswith(("委员：", "市委会："))  # the salutation is no part of it


def test_the_header_is_a_clause_of_its_own_when_it_holds_a_number(
    documents: dict[str, ParsedDocument],
) -> None:
    """ "文号是多少" is answered from the header: authority, 文号 and title as printed."""
    header = documents[seed("001").name].clauses[0]
    assert (header.section, header.ordinal) == ("", 0)
    assert "东工信函〔2021〕169号" in header.text and "提案答复的函" in header.text


def test_ordinals_count_clauses_in_reading_order(documents: dict[str, ParsedDocument]) -> None:
    for document in documents.values():
        assert [c.ordinal for c in document.clauses] == list(range(len(document.clauses)))


# -- Cleaning --------------------------------------------------------------------------------


def test_broken_lines_inside_a_sentence_are_joined(documents: dict[str, ParsedDocument]) -> None:
    clause = clause_with(documents[seed("000").name], "全国领先的工业互联网产业示范基地")
    assert "全国领先的工业互联网产业示范基地" in clause.text  # "\n\n" between them is gone
    assert not any(c.text.startswith("产业示范基地") for c in documents[seed("000").name].clauses)


MARKUP_AND_CHROME = [
    "**",
    "##",
    "---",
    "您当前位置",
    "当前的位置",
    "浏览次数",
    "版权所有",
    "ICP备",
    "打印本页",
    "](",
    "|",
]
# Labels of administrative lines; the words alone may occur in a sentence (提案的主办单位).
# Contact lines (联系人, 联系电话, 承办人) are content: people ask for them.
CHROME_LABEL = re.compile(
    r"(字号|发布日期|邮编|地址|主办单位|公开方式|抄送|领导签字|附件\d*)\s*[:：]"
)


def pieces(clause: ParsedClause) -> list[str]:
    """The clause's text cut at its seams: each piece is continuous in the file."""
    bounds = [0, *clause.seams, len(clause.text)]
    return [clause.text[a:b] for a, b in pairwise(bounds)]


@pytest.mark.parametrize("path", all_documents(), ids=lambda p: p.name)
def test_no_markup_or_chrome_in_any_clause(path: Path) -> None:
    document = read_document(path)
    assert document.clauses
    for clause in document.clauses:
        for word in MARKUP_AND_CHROME:
            assert word not in clause.text, (word, clause.text)
        assert not CHROME_LABEL.search(clause.text), clause.text
        assert not clause.text.startswith(("#", "- ", "> "))


@pytest.mark.parametrize("path", all_documents(), ids=lambda p: p.name)
def test_every_clause_is_verbatim(path: Path) -> None:
    """With white space (and markup) ignored, every clause is found in its source file."""
    document = read_document(path)
    source = verbatim_key(document.text)
    assert document.clauses
    for clause in document.clauses:
        for piece in pieces(clause):
            assert verbatim_key(piece) in source, clause.text


@pytest.mark.parametrize("prefix", ["001", "003", "004"])
def test_verbatim_with_white_space_alone_where_there_is_no_markup(prefix: str) -> None:
    document = read_document(seed(prefix))
    source = "".join(document.text.split())
    assert document.clauses
    for clause in document.clauses:
        for piece in pieces(clause):
            assert "".join(piece.split()) in source


@pytest.mark.parametrize("path", all_documents(), ids=lambda p: p.name)
def test_no_clause_is_too_long(path: Path) -> None:
    document = read_document(path)
    assert max(len(c.text) for c in document.clauses) <= MAX_CLAUSE_CHARS


def test_characters_are_not_normalised(documents: dict[str, ParsedDocument]) -> None:
    clause = clause_with(documents[seed("004").name], "穗府办[2017]1号),根据")
    assert "(穗府办[2017]1号),根据" in clause.text  # half-width stays half-width


# -- Other shapes of document ----------------------------------------------------------------


def test_gbk_file(documents: dict[str, ParsedDocument]) -> None:
    document = documents["gbk_notice.txt"]
    assert document.encoding == "gb18030"
    assert document.doc_number == "佛工信〔2022〕15号"
    assert document.authority == "佛山市工业和信息化局"  # 佛山市工业和信息化局文件 in the red head
    assert document.title == (
        "佛山市工业和信息化局关于开展2022年制造业数字化智能化转型示范项目申报工作的通知"
    )
    assert document.recipient == "各区工业和信息化局，各有关单位"
    assert document.date == dt.date(2022, 3, 15)  # 二〇二二年三月十五日
    assert (document.city, document.district) == ("佛山", None)
    assert clause_with(document, "每个项目最高不超过300万元").section == "二、"
    assert clause_with(document, "近三年无严重失信行为").section == "一、（一）"
    texts = " ".join(c.text for c in document.clauses)
    assert "申报书" not in texts  # the attachment list
    assert clause_with(document, "0757-83280000").section == "三、"  # a contact is content


def test_articles_with_chapters(documents: dict[str, ParsedDocument]) -> None:
    document = documents["articles_rules.txt"]
    assert document.title == "惠州市工业互联网发展专项资金管理实施细则"
    assert document.doc_number == "惠市工信规〔2021〕2号"
    assert document.date == dt.date(2021, 8, 1)  # from the header note: no signature
    assert document.clauses[0].section == ""  # the header: title, 文号
    assert document.clauses[1].section == "第一章第一条"
    assert document.clauses[1].headings == ("总则",)
    listed = clause_with(document, "专项资金支持以下项目")
    assert listed.section == "第二章第三条"
    assert "（二）企业上云上平台项目；" in listed.text  # a short list stays with its article
    second_paragraph = clause_with(document, "符合前款规定的项目")
    assert second_paragraph.section == "第二章第四条"  # an article owns its paragraphs
    assert clause_with(document, "有效期五年").section == "第四章第八条"
    # an article is one clause with all its paragraphs (one unit of retrieval)
    assert [c.section for c in document.clauses].count("第二章第四条") == 1
    article = clause_with(document, "符合前款规定的项目")
    assert "\n" in article.text  # both paragraphs, one after the other


def test_markdown_document(documents: dict[str, ParsedDocument]) -> None:
    document = documents["markdown_policy.md"]
    assert document.title == "江门市促进中小企业数字化转型若干措施"
    assert document.doc_number == "江工信〔2023〕8号"  # from the front matter
    assert document.date == dt.date(2023, 5, 8)
    assert document.authority == "江门市工业和信息化局"
    assert document.city == "江门"
    assert clause_with(document, "最高不超过5万元").text == (
        "对中小企业购买云服务的，按实际支付费用的50%给予补贴，每家企业最高不超过5万元。"
    )
    assert clause_with(document, "最高不超过5万元").section == "一、1."
    link = clause_with(document, "给予优先支持")
    assert "省级政策" in link.text and "http" not in link.text
    assert clause_with(document, "追加10万元奖励").section == "二、"
    assert clause_with(document, "追加10万元奖励").headings == ("培育数字化转型服务商",)


def test_web_page_with_chrome(documents: dict[str, ParsedDocument]) -> None:
    document = documents["web_page.txt"]
    assert document.title == "珠海市香洲区支持工业企业技术改造实施办法"
    assert document.doc_number == "珠香工信〔2022〕7号"
    assert document.authority == "珠海市香洲区工业和信息化局"
    assert document.date == dt.date(2022, 9, 16)  # 成文日期 before 发布日期
    assert (document.city, document.district) == ("珠海", "香洲区")
    assert clause_with(document, "规模以上工业企业").section == "（一）"
    assert clause_with(document, "最高500万元").section == "（二）1."
    assert clause_with(document, "不超过1:0.5").section == "（二）2.（1）"


def test_published_date_is_only_a_fallback(tmp_path: Path) -> None:
    text = (FIXTURES / "web_page.txt").read_text(encoding="utf-8")
    path = tmp_path / "page.txt"
    path.write_text(text.replace("成文日期：2022-09-16\n", ""), encoding="utf-8")
    assert read_document(path).date == dt.date(2022, 9, 20)


def test_numbering_ladders(documents: dict[str, ParsedDocument]) -> None:
    document = documents["ladders.txt"]
    assert clause_with(document, "推动生产设备联网").section == "一、（一）1.一是"
    assert clause_with(document, "推动生产设备联网").headings == (
        "主要任务",
        "推进企业数字化改造",
        "支持龙头企业建设智能工厂",
    )
    assert clause_with(document, "开展5G全连接工厂试点").section == "一、（一）1.三是"
    assert clause_with(document, "按服务费用的30%给予补贴").section == "一、（一）2.（1）"
    assert clause_with(document, "每年安排不少于1亿元").section == "一、（二）①"
    assert (document.city, document.district) == ("东莞", None)


def test_long_paragraphs_split_at_sentence_ends(documents: dict[str, ParsedDocument]) -> None:
    document = documents["ladders.txt"]
    parts = [c for c in document.clauses if c.section == "二、"]
    assert len(parts) == 2
    assert all(part.text.endswith("。") for part in parts)
    paragraph = next(
        line
        for line in document.text.splitlines()
        if line.startswith("加强统筹协调")  # the one long paragraph of the file
    )
    assert "".join(part.text for part in parts) == paragraph


def test_hard_wrapped_pdf_text(documents: dict[str, ParsedDocument]) -> None:
    document = documents["wrapped_pdf.txt"]
    assert document.title == "汕头市工业和信息化局关于对市人大代表建议第105号的答复"
    assert document.recipient == "李明代表"
    assert document.date == dt.date(2023, 7, 20)
    opening = clause_with(document, "出台了《汕头市玩具产业集群数字化转型实施方案》")
    assert opening.section == "一、" and opening.headings == ("工作进展",)
    assert clause_with(document, "单个项目最高补助100万元").section == "二、（一）"
    assert clause_with(document, "感谢您对我市").section == ""


# -- Decoding and bad input -----------------------------------------------------------------


def test_decode_utf8_with_and_without_bom() -> None:
    assert decode_policy_bytes("政策".encode()) == ("政策", "utf-8")
    assert decode_policy_bytes("\ufeff政策".encode()) == ("政策", "utf-8-sig")


def test_decode_gbk_utf16_and_big5() -> None:
    text = "东莞市工业和信息化局关于支持企业数字化转型的通知。"
    assert decode_policy_bytes(text.encode("gbk")) == (text, "gb18030")
    assert decode_policy_bytes(text.encode("utf-16")) == (text, "utf-16")
    traditional = "東莞市工業和信息化局關於支持企業數字化轉型的通知。對符合條件的項目給予補助。"
    assert decode_policy_bytes(traditional.encode("big5")) == (traditional, "big5")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "文件是空的"),
        (b"\x00\x01PK\x03\x04" + bytes(200), "NUL 字节"),
        (bytes(range(1, 32)) * 8 + "政策".encode(), "控制字符"),
        (b"\x80\x81\xff" * 20, "无法按 UTF-8"),
    ],
)
def test_decode_refuses_bad_bytes(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        decode_policy_bytes(data)


BAD_FILES = [
    ("empty.txt", b"", "文件是空的"),
    ("blank.txt", b" \n\r\n\t  \n", "只有空白"),
    ("wide_blank.txt", "\u3000\u3000\n".encode(), "只有空白"),
    ("scan.pdf.txt", b"%PDF-1.4\x00\x00\x01\x02binary", "二进制"),
    ("noise.txt", bytes(range(1, 32)) * 10, "二进制"),
    ("latin1.txt", b"\x80\x81\xff" * 50, "无法按 UTF-8"),
    (
        "chrome.txt",
        (
            "字号：大 中 小\n您当前位置：首页 > 政策文件\n发布日期：2022-01-01 浏览次数：12\n"
            "主办单位：某某市人民政府 版权所有\n地址：某某路1号 邮编：510000\n粤ICP备1号\n"
        ).encode(),
        "没有可识别的政策正文",
    ),
    ("digits.txt", b"12345\n67890\n2021 2022 2023\n", "没有可识别的政策正文"),
    ("english.txt", b"Lorem ipsum dolor sit amet.\nConsectetur adipiscing.\n", "没有可识别"),
]


@pytest.mark.parametrize(("name", "data", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_raise_document_error(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DocumentError) as caught:
        read_document(path, source=f"corpus/{name}")
    assert reason in caught.value.reason
    assert caught.value.path == f"corpus/{name}"
    assert str(caught.value).startswith(f"corpus/{name}: ")


def test_missing_file_raises_document_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="无法读取文件"):
        read_document(tmp_path / "absent.txt")


def test_seams_mark_where_inline_markup_was_removed() -> None:
    from retrieval.reader import read_document

    document = read_document(SEEDS / "000_c9113a1d546cd539.txt")
    clause = next(c for c in document.clauses if "实施贷款风险补偿" in c.text)
    raw = "".join(document.text.split())
    assert clause.seams
    bounds = [0, *clause.seams, len(clause.text)]
    for start, end in itertools.pairwise(bounds):
        piece = "".join(clause.text[start:end].split())
        assert piece in raw, piece
