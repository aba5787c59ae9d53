"""Policy texts published the way bureaus do: PDF, Word (.docx) and a saved web page.

Each paragraph (non-blank line) of a text becomes a paragraph of the file, so reading the file
back must give the text's clauses. PDFs get what real ones have: a running page header, a
page number in the footer, first-line indents, wrapping at the margin, sentences running over
a page break. The CJK font is WenQuanYi Micro Hei from the Debian package fonts-wqy-microhei
(.ci/run installs it); without it, printing a PDF fails saying so.
"""

from __future__ import annotations

import io
from functools import cache
from html import escape as html_escape
from itertools import pairwise
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from retrieval.reader import verbatim_key
from retrieval.types import ParsedDocument

FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
# a short real-shaped notice; AWARDS is its table, printed after line NOTICE_TABLE_AFTER
NOTICE = """东莞市工业和信息化局
东工信〔2024〕12号
关于印发科技创新奖励办法的通知
各有关单位：
为鼓励企业开展技术创新，现将有关事项通知如下。
一、奖励标准
对获得市科技创新奖的企业按以下标准给予一次性奖励：
二、申报要求
申报单位应当于每年6月30日前通过东莞市企业服务平台提交申报材料。
东莞市工业和信息化局
2024年3月1日
"""
AWARDS = [["奖项", "奖金"], ["一等奖", "50万元"], ["二等奖", "30万元"]]
NOTICE_TABLE_AFTER = 7
FONT = "WQYMicroHei"
RUNNING_HEADER = "东莞市人民政府门户网站 政务公开"


def document_shape(document: ParsedDocument) -> tuple[object, ...]:
    """Metadata and clauses as compared across formats: white space does not count."""

    def compact(text: str | None) -> str | None:
        return "".join(text.split()) if text is not None else None

    clauses = [
        (c.section, tuple(compact(h) for h in c.headings), compact(c.text))
        for c in document.clauses
    ]
    return (
        document.doc_number,
        compact(document.title),
        document.authority,
        document.recipient,
        document.date,
        document.province,
        document.city,
        document.district,
        document.level,
        clauses,
    )


def verbatim_pieces(text: str, seams: tuple[int, ...]) -> list[str]:
    """A clause's text cut at its seams (where reading skipped something of the source): each
    piece must stand in the source as it is, white space and markup aside."""
    bounds = [0, *seams, len(text)]
    pieces = (verbatim_key(text[start:end]) for start, end in pairwise(bounds))
    return [piece for piece in pieces if piece]


def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@cache
def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if not FONT_FILE.exists():
        raise FileNotFoundError(f"{FONT_FILE} is missing: apt-get install fonts-wqy-microhei")
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE), subfontIndex=0))


def make_pdf(
    text: str,
    *,
    table: list[list[str]] | None = None,
    table_after: int = 0,
    password: str | None = None,
    header: str = RUNNING_HEADER,
    header_size: float = 9,
    header_on_first_page: bool = False,
) -> bytes:
    """A text PDF of ``text``: ``- N -`` page numbers, a running header from page 2 on
    (or from page 1), in small print unless ``header_size`` says otherwise."""
    from reportlab.lib import pdfencrypt
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

    _register_font()
    style = ParagraphStyle(
        "body", fontName=FONT, fontSize=12, leading=18, wordWrap="CJK", firstLineIndent=24
    )

    def page_number(canvas, document) -> None:  # type: ignore[no-untyped-def]
        canvas.saveState()
        canvas.setFont(FONT, 9)
        canvas.drawCentredString(A4[0] / 2, 30, f"- {document.page} -")
        canvas.restoreState()

    def chrome(canvas, document) -> None:  # type: ignore[no-untyped-def]
        page_number(canvas, document)
        canvas.saveState()
        canvas.setFont(FONT, header_size)
        canvas.drawString(72, A4[1] - 40, header)
        canvas.restoreState()

    story: list[object] = [Paragraph(xml_escape(line), style) for line in paragraphs(text)]
    if table:
        grid = [("FONT", (0, 0), (-1, -1), FONT), ("GRID", (0, 0), (-1, -1), 0.5, "black")]
        story.insert(table_after, Table(table, style=grid))
    buffer = io.BytesIO()
    encrypt = pdfencrypt.StandardEncryption(password) if password else None
    SimpleDocTemplate(buffer, pagesize=A4, encrypt=encrypt).build(
        story, onFirstPage=chrome if header_on_first_page else page_number, onLaterPages=chrome
    )
    return buffer.getvalue()


def make_scanned_pdf() -> bytes:
    """A PDF whose pages are only an image, as a scanner makes them."""
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("L", (600, 800), color=255)
    for x in range(100, 500):
        for y in range(100, 110):
            image.putpixel((x, y), 0)
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.drawImage(ImageReader(image), 0, 0, width=A4[0], height=A4[1])
    page.showPage()
    page.save()
    return buffer.getvalue()


def make_docx(
    text: str, *, table: list[list[str]] | None = None, table_after: int = 0, header: str = ""
) -> bytes:
    """A Word document of ``text`` (one paragraph per line), a page header and a table."""
    import docx

    document = docx.Document()
    if header:
        document.sections[0].header.paragraphs[0].text = header
    lines = paragraphs(text)
    for index, line in enumerate(lines):
        if table and index == table_after:
            _docx_table(document, table)
        document.add_paragraph(line)
    if table and table_after >= len(lines):
        _docx_table(document, table)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _docx_table(document, rows: list[list[str]]) -> None:  # type: ignore[no-untyped-def]
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value


def make_html(
    text: str,
    *,
    table: list[list[str]] | None = None,
    table_after: int = 0,
    encoding: str = "utf-8",
    site: str = "东莞市人民政府门户网站",
) -> bytes:
    """A saved government page: navigation, breadcrumb, the article, related links, footer."""
    lines = paragraphs(text)
    body = [f"<p>{html_escape(line)}</p>" for line in lines]
    if table:
        rows = "".join(
            "<tr>" + "".join(f"<td>{html_escape(cell)}</td>" for cell in row) + "</tr>"
            for row in table
        )
        body.insert(table_after, f"<table border='1'>{rows}</table>")
    page = f"""<!DOCTYPE html>
<html><head><meta charset="{encoding}"><title>{html_escape(lines[0])}_{site}</title>
<script>var _hmt = [];</script><style>p {{ text-indent: 2em; }}</style></head>
<body>
<div class="top-nav"><ul><li><a href="/">首页</a></li><li><a href="/zwgk">政务公开</a></li>
<li><a href="/bsfw">办事服务</a></li><li><a href="/hdjl">互动交流</a></li></ul></div>
<div class="breadcrumb"><a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a> &gt; 政策文件</div>
<div class="article"><div id="zoom">
{"".join(body)}
</div></div>
<div class="related-links"><h3>相关文章</h3><ul>
<li><a href="/a1">关于开展2022年工业和信息化专项资金申报工作的通知</a></li>
<li><a href="/a2">东莞市促进工业互联网创新发展的若干措施解读</a></li></ul></div>
<div class="footer">主办单位：{site}　版权所有　网站标识码：4419000000　粤ICP备05000000号</div>
</body></html>"""
    return page.encode(encoding)
