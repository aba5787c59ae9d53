"""Decoding a policy file's bytes: UTF-8, UTF-16, GB18030 or Big5; empty, binary and
undecodable files refused with the reason."""

from __future__ import annotations

import codecs
import unicodedata

from retrieval.messages import message
from zhtext.normalize import to_simplified


def decode_policy_bytes(data: bytes) -> tuple[str, str]:
    """Decode a policy file's bytes: returns (text, encoding).

    UTF-8 (with or without BOM) first, then UTF-16 with a BOM, then GB18030 (a superset of GBK
    and GB2312), and Big5 when GB18030 yields implausible text. Raises ValueError with the
    reason for empty, binary (NUL bytes, control characters) and undecodable input.
    """
    if not data:
        raise ValueError(message("reader", "empty"))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as error:
            reason = message("reader", "bad_utf16", error=error.reason)
            raise ValueError(reason) from None
        _refuse_control_soup(text)
        return text, "utf-16"
    if b"\x00" in data:
        raise ValueError(message("reader", "binary_nul"))
    controls = sum(1 for byte in data if byte < 0x20 and byte not in b"\t\n\r\x0b\x0c")
    if controls >= 2 and controls > len(data) // 100:
        raise ValueError(message("reader", "binary_controls", count=controls))
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as error:
            reason = message("reader", "bad_utf8", error=error.reason)
            raise ValueError(reason) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    gb_text: str | None
    try:
        gb_text = data.decode("gb18030")
    except UnicodeDecodeError:
        gb_text = None
    if gb_text is not None and _plausibility(gb_text) >= 0.6:
        return gb_text, "gb18030"
    big5: str | None
    try:
        big5 = data.decode("big5")
    except UnicodeDecodeError:
        big5 = None
    if big5 is not None and (gb_text is None or _plausibility(big5) > _plausibility(gb_text)):
        return big5, "big5"
    if gb_text is not None:
        return gb_text, "gb18030"
    raise ValueError(message("reader", "undecodable"))


def _refuse_control_soup(text: str) -> None:
    controls = sum(
        1 for char in text if unicodedata.category(char) == "Cc" and char not in "\t\n\r\x0b\x0c"
    )
    if controls >= 2 and controls > len(text) // 100:
        raise ValueError(message("reader", "binary_controls", count=controls))


def _plausibility(text: str) -> float:
    """Share of the non-ASCII characters that are everyday Chinese (GB2312 level 1, punctuation).

    Text decoded with the wrong Chinese codec is full of rare characters and kana.
    """
    sample = to_simplified(text[:4000])
    total = common = 0
    for char in sample:
        if ord(char) < 0x80 or char.isspace():
            continue
        total += 1
        if "\u3000" <= char <= "\u303f" or "\uff00" <= char <= "\uffef" or char in "“”‘’…—·":
            common += 1
            continue
        try:
            encoded = char.encode("gb2312")
        except UnicodeEncodeError:
            continue
        if 0xB0 <= encoded[0] <= 0xD7:
            common += 1
    return common / total if total else 1.0
