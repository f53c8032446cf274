"""Telegram HTML -> Discord markdown: tags, entities, escaping only where Discord would read markup."""

from __future__ import annotations

import pytest

from bot.transports.markup import escape_text, slash_examples, split_title, to_markdown, truncate


@pytest.mark.parametrize(
    ("html_text", "markdown"),
    [
        ("<b>Hashprice</b>: $52.10/PH/day", "**Hashprice**: $52.10/PH/day"),
        ("<i>Data 5 s old.</i>", "*Data 5 s old.*"),
        ("<u>u</u> <s>s</s> <strong>b</strong> <em>i</em>", "__u__ ~~s~~ **b** *i*"),
        ("Example: <code>/breakeven s19xp 5.5c</code>", "Example: `/breakeven s19xp 5.5c`"),
        ("<b>Next: <code>-1.91%</code></b>", "**Next: `-1.91%`**"),
        ("<b> padded </b>!", " **padded** !"),
        ("<b></b>x<i> </i>", "x "),
        ('<a href="https://mempool.space/">mempool</a>', "[mempool](https://mempool.space/)"),
        ('<a href="javascript:x()">no link</a>', "no link"),
        ("line<br>break", "line\nbreak"),
        ("<b>unclosed <i>tags", "**unclosed *tags***"),
        ("<blink>unknown</blink> tag", "unknown tag"),
    ],
)
def test_tags_become_markdown(html_text: str, markdown: str) -> None:
    assert to_markdown(html_text) == markdown


def test_entities_are_unescaped_after_the_tags() -> None:
    assert to_markdown("&lt;b&gt;not bold&lt;/b&gt; 1 &amp; 2 &quot;q&quot;") == '<b>not bold</b> 1 & 2 "q"'


def test_markdown_characters_in_text_are_escaped() -> None:
    assert to_markdown("S19_XP *new* ~x~ a|b `tick` back\\slash") == (
        "S19\\_XP \\*new\\* \\~x\\~ a\\|b \\`tick\\` back\\\\slash"
    )


def test_mentions_and_masked_links_in_text_stay_literal() -> None:
    assert to_markdown(
        "&lt;@123&gt; &lt;#9&gt; &lt;t:1:R&gt; &lt;a:w:1&gt; &lt;/lang:2&gt; [x](https://e.com)"
    ) == ("\\<@123> \\<#9> \\<t:1:R> \\<a:w:1> \\</lang:2> [x\\](https://e.com)")
    assert to_markdown("3 &lt; 5 and [a] b") == "3 < 5 and [a] b"  # nothing Discord would read: untouched


def test_urls_are_not_escaped() -> None:
    assert escape_text("see https://example.com/a_b*c and a_b") == "see https://example.com/a_b*c and a\\_b"


def test_line_start_markers_are_escaped_but_not_mid_line() -> None:
    text = "# head\n> quote\n- item\n  * nested\n1. first\n-# small\nprice - 5% #3 > 2\n-1.91% #hash"
    assert to_markdown(text) == (
        "\\# head\n\\> quote\n\\- item\n  \\* nested\n1\\. first\n\\-# small\nprice - 5% #3 > 2\n-1.91% #hash"
    )


def test_code_keeps_its_characters() -> None:
    assert to_markdown("<code>a_b *c* &lt;x&gt;</code>") == "`a_b *c* <x>`"
    assert to_markdown("<code>a`b</code>") == "``a`b``"
    assert to_markdown("<code>`</code>") == "`` ` ``"


def test_pre_becomes_a_fenced_block() -> None:
    table = "<b>Breakeven</b>\n<pre>Power     $0.0805/kWh\n- fee_pct  2 %\n# x</pre>\n<i>Data 1 s old.</i>"
    assert to_markdown(table) == (
        "**Breakeven**\n```\nPower     $0.0805/kWh\n- fee_pct  2 %\n# x\n```\n*Data 1 s old.*"
    )
    assert to_markdown('<pre><code class="language-json">{"a": 1}</code></pre>') == '```json\n{"a": 1}\n```'
    assert to_markdown("<pre>a ``` b</pre>") == "```\na `\u200b`` b\n```"
    assert to_markdown("<code>two\nlines</code>") == "```\ntwo\nlines\n```"


def test_split_title_takes_a_bold_first_line() -> None:
    assert split_title("<b>Breakeven — S19 &amp; co</b>\n<pre>x</pre>") == (
        "Breakeven — S19 & co",
        "<pre>x</pre>",
    )
    assert split_title("<b>Alerts in this chat</b>") == ("Alerts in this chat", "")
    assert split_title("⛏ <b>minerwatch</b> tells miners") == (None, "⛏ <b>minerwatch</b> tells miners")
    assert split_title("<b>a</b> and more\nx") == (None, "<b>a</b> and more\nx")
    assert split_title("🔔 price below $80,000") == (None, "🔔 price below $80,000")


def test_truncate_keeps_code_blocks_closed() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("abcdefghijk", 5) == "abcd…"
    cut = truncate("intro\n```\n" + "row\n" * 50 + "```", 30)
    assert len(cut) <= 30 and cut.endswith("…\n```") and cut.count("```") == 2


SLASH = {
    "breakeven": ("machine", "power"),
    "profile": ("settings",),
    "chart": ("window", "metric"),
    "status": (),
}


@pytest.mark.parametrize(
    ("example", "slash"),
    [
        ("/breakeven s19xp 5.5c", "/breakeven machine:s19xp power:5.5c"),
        ("/breakeven Antminer S21 Pro 5c", "/breakeven machine:Antminer S21 Pro power:5c"),
        ("/breakeven s19", "/breakeven machine:s19"),
        ("/profile s19xp 5.5c count 3", "/profile settings:s19xp 5.5c count 3"),
        ("/chart 1y price", "/chart window:1y metric:price"),
        ("/status", "/status"),
        ("/unknown x", "/unknown x"),
    ],
)
def test_examples_become_slash_command_options(example: str, slash: str) -> None:
    assert slash_examples(f"Example: <code>{example}</code>.", SLASH) == f"Example: <code>{slash}</code>."


def test_only_examples_in_code_are_rewritten() -> None:
    text = "/breakeven s19 5c, e.g. <b>/breakeven s19 5c</b>"
    assert slash_examples(text, SLASH) == text
