"""Tencent's published WeCom callback sample vectors, as used in wechatpy's tests/test_crypto.py.

Data only (transcribed values, no code): the app's token, EncodingAESKey and corp id, one URL
verification (echostr) vector and one encrypted message vector with what it decrypts to.
"""

from __future__ import annotations

TOKEN = "123456"
ENCODING_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
CORP_ID = "wx49f0ab532d5d035a"

# GET /wecom URL verification
ECHO_SIGNATURE = "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
ECHO_TIMESTAMP = "1411443780"
ECHO_NONCE = "437374425"
ECHO_STR = (
    "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
)
ECHO_NONCE_WRONG = "437374424"  # the published "should fail" variant: same signature, other nonce
ECHO_PLAIN = "5927782489442352469"  # what ECHO_STR decrypts to

# POST /wecom message
MESSAGE_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
MESSAGE_TIMESTAMP = "1411525903"
MESSAGE_NONCE = "461056294"
MESSAGE_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrs"
    "TyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+"
    "BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7"
    "vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dS"
    "hyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
MESSAGE_BODY = f"""<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>
<Encrypt><![CDATA[{MESSAGE_ENCRYPT}]]></Encrypt>
<AgentID><![CDATA[1]]></AgentID>
</xml>"""
MESSAGE_FROM_USER = "messense"
MESSAGE_CONTENT = "test"
MESSAGE_ID = "4363689963896700987"
MESSAGE_AGENT_ID = 1

# A reply encrypted with the random prefix "1234567890123456" (published expected output)
REPLY_NONCE = "461056294"
REPLY_TIMESTAMP = "1411525903"
REPLY_SIGNATURE = "407518b7649e86ef23978113f92d27afa9296533"
REPLY_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBq"
    "GsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFh"
    "HZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX0"
    "5UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3"
    "WeK2XeFYFMNMpatF9XiKzHo3"
)
REPLY_CONTENT = "test"
REPLY_TO_USER = "messense"
