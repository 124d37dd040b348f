"""Text from other people's files inside the dashboard's markdown (app.components.text)."""

from __future__ import annotations

import re

from app.components.text import WORD_JOINER, code, md


def test_markup_that_reaches_out_is_escaped_and_the_rest_reads_as_written():
    shown = md("[Sign in](https:evil.example) ![](https:evil.example?t) <https://x> $x$ **b** ~s~ \\[")
    assert not re.search(r"(?<!\\)[\[\]<>!$*~]", shown.replace("\\\\", "")), shown  # each one escaped
    assert md("ball_300.npz: not a features file (x)") == "ball_300.npz: not a features file (x)"
    assert md("__init__ _draft_ R&D") == "\\_\\_init\\_\\_ \\_draft\\_ R\\&D"  # no bold, italics or entity
    assert md("www&#46;evil&#46;example") == "www\\&#46;evil\\&#46;example"  # the entity stays text, no address
    assert md("a\nb\r\nc") == "a b c"  # no new paragraph, heading or table from a line break


def test_bare_addresses_get_an_invisible_word_joiner():
    shown = md("www.evil.example, https://evil.example/x and x@evil.example")
    assert shown.replace(WORD_JOINER, "") == "www.evil.example, https://evil.example/x and x@evil.example"
    assert "www." not in shown and "://" not in shown and "x@" not in shown


def test_a_code_span_holds_any_backticks():
    assert code("runs/table_IV.csv") == "`runs/table_IV.csv`"
    assert code("a`b") == "``a`b``" and code("`x") == "`` `x ``"
