"""Text from other people's files inside Streamlit's markdown.

Routine ids, file names, actions, splits and error messages come from data sets,
checkpoints and uploads that someone else made. Streamlit renders markdown in titles,
captions and alerts, so such a string could become a link, a remote image (a request to
someone's server when the page opens), formatting or math. Every one goes through
:func:`md` (or :func:`code` inside a code span) before it reaches markdown.
"""

from __future__ import annotations

import re

_MARKUP = re.compile(r"([\\\[\]<>!$*~&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")
"""Characters that open markdown that reaches out (links, images, angle-bracket links,
entities such as ``&#46;`` that would hide an address, math) or restyles text (bold,
italics, strikethrough); a backslash escapes each (CommonMark). An underscore inside a word
(``ball_300``) opens nothing and stays as it is."""
_AUTOLINK = re.compile(r"(?i)(?<=www)(?=\.)|(?<=:)(?=//)|(?=@)")
"""Where GFM turns bare text into a link (``www.``, ``://``, e-mail's ``@``). Streamlit's
renderer finds these in the text after escapes are undone, so a word joiner (U+2060,
invisible) goes there instead."""
WORD_JOINER = "\u2060"
_BACKTICKS = re.compile("`+")


def md(text: object) -> str:
    """``text`` as markdown that shows it as written and forms no link, image, autolink,
    e-mail link, math, bold or strikethrough: the characters that would open one are
    backslash-escaped, bare addresses get an invisible word joiner, and line breaks become
    spaces; the rest, file names with their dots and inner underscores and a library's own
    `code` marks, stays as it reads."""
    flat = " ".join(str(text).splitlines())
    return _AUTOLINK.sub(WORD_JOINER, _MARKUP.sub(r"\\\1", flat))


def code(text: object) -> str:
    """``text`` as an inline code span, whatever backticks it holds: the span's fence is
    longer than its longest run of backticks (CommonMark), and line breaks become spaces."""
    flat = " ".join(str(text).splitlines())
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(flat)), default=0) + 1)
    return f"{fence} {flat} {fence}" if flat.startswith("`") or flat.endswith("`") else f"{fence}{flat}{fence}"
