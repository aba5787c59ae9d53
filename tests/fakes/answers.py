"""Stand-in answers for renderer and channel tests, and what a person sees of Telegram HTML."""

from __future__ import annotations

from html.parser import HTMLParser

from bot.types import Answer


def make_answer(number: int, excerpt: str, doc_number: str = "东工信函〔2021〕169号") -> Answer:
    """A Dongguan clause numbered ``number`` with the given excerpt (its first two chars bold)."""
    return Answer(
        doc_number=doc_number,
        title="市工信局关于对东莞市政协第十三届六次会议第20210113号提案答复的函",
        authority="东莞市工业和信息化局",
        date="2021-06-30",
        city="东莞",
        section=f"一、（一）{number}.",
        excerpt=excerpt,
        passage=excerpt,
        passage_id=f"p{number}",
        score=10.0 - number,
        citation=f"东莞市工业和信息化局《{doc_number}》第{number}条",
        emphasis=((0, 2),),
    )


def long_answer(number: int, length: int) -> Answer:
    """A clause of ``length`` characters with markup-like text (<, &) and two bold spans."""
    excerpt = ("按照项目核定投入金额的 25% 给予资助 <每个> 项目 & 最高 500 万。" * 200)[:length]
    return Answer(
        doc_number=f"东工信函〔2021〕{number}号",
        title="标题",
        authority="东莞市工业和信息化局",
        date="2021-06-30",
        city="东莞",
        section="一、（一）",
        excerpt=excerpt,
        passage=excerpt,
        passage_id=f"p{number}",
        score=1.0,
        citation=f"东莞市工业和信息化局 东工信函〔2021〕{number}号 一、（一）",
        emphasis=((11, 14), (40, 46)),
    )


def visible_text(html_text: str) -> str:
    """What a person sees of an HTML message."""

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []

        def handle_data(self, data: str) -> None:
            self.parts.append(data)

    parser = Collect()
    parser.feed(html_text)
    parser.close()
    return "".join(parser.parts)
