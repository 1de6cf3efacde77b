"""The managed-comment document: valid ADF, Jira wiki markup, HTML and text, with the
marker always present and every piece of user text escaped."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.document import (
    MARKER,
    BulletList,
    Document,
    Link,
    Paragraph,
    Table,
    body_text,
    contains_marker,
    wiki_escape,
)
from sandbox.adf import adf_problems

DOC = Document(
    "PAY-12 needs attention",
    [
        Paragraph("2 rules fail.", Link("PMO standard", "https://pmo.example/standard#2.1")),
        BulletList(
            ["Epics in progress need an owner", ["Estimate missing:", Link("fix", "https://x/y")]]
        ),
        Table(["Rule", "Severity", "How to fix"], [["epic-has-owner", "high", "Assign someone"]]),
    ],
)


def assert_valid_adf(document):
    """Atlassian's own JSON schema (`@atlaskit/adf-schema`), as Jira Cloud applies it."""
    assert adf_problems(document) == []


# -- the marker ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "heading"),
    [
        ("PAY-12 needs attention", f"PAY-12 needs attention · {MARKER}"),
        ("", MARKER),
        (MARKER, MARKER),
        ("PMO compliance", MARKER),
        (f"All pass · {MARKER}", f"All pass · {MARKER}"),
        ("two\nlines", f"two lines · {MARKER}"),
    ],
)
def test_heading_ends_with_the_marker_exactly_once(title, heading):
    assert Document(title).heading == heading


@pytest.mark.parametrize("render", ["to_adf", "to_wiki", "to_html", "to_text"])
def test_every_rendering_carries_the_marker(render):
    body = getattr(DOC, render)()
    assert contains_marker(body)
    assert not contains_marker(body, "some other marker")


def test_marker_found_in_adf_split_across_text_nodes():
    stored = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "heading",
                "attrs": {"level": 3},
                "content": [
                    {"type": "text", "text": "PMO compliance "},
                    {"type": "text", "text": "(pmo-bridge)", "marks": [{"type": "strong"}]},
                ],
            }
        ],
    }
    assert contains_marker(stored)


# -- ADF -------------------------------------------------------------------------------


def test_adf_is_a_valid_version_1_document():
    adf = DOC.to_adf()
    assert adf["version"] == 1 and adf["type"] == "doc"
    assert_valid_adf(adf)
    heading, para, bullets, table = adf["content"]
    assert heading == {
        "type": "heading",
        "attrs": {"level": 3},
        "content": [{"type": "text", "text": f"PAY-12 needs attention · {MARKER}"}],
    }
    assert para["content"][-1] == {
        "type": "text",
        "text": "PMO standard",
        "marks": [{"type": "link", "attrs": {"href": "https://pmo.example/standard#2.1"}}],
    }
    assert [item["type"] for item in bullets["content"]] == ["listItem", "listItem"]
    header_row, row = table["content"]
    assert [c["type"] for c in header_row["content"]] == ["tableHeader"] * 3
    assert [c["type"] for c in row["content"]] == ["tableCell"] * 3
    assert row["content"][2]["content"][0]["content"][0]["text"] == "Assign someone"


def test_adf_drops_empty_text_and_unsafe_links():
    adf = Document(
        "t", [Paragraph("", Link("click", "javascript:alert(1)")), Table(["a"], [[""]])]
    ).to_adf()
    assert_valid_adf(adf)
    assert adf["content"][1]["content"] == [{"type": "text", "text": "click"}]
    assert adf["content"][2]["content"][1]["content"][0]["content"][0]["content"] == []


# -- wiki markup -----------------------------------------------------------------------


def test_wiki_markup_layout():
    assert DOC.to_wiki() == "\n".join(
        [
            f"h3. PAY&#45;12 needs attention · {MARKER}",
            "",
            "2 rules fail. [PMO standard|https://pmo.example/standard#2.1]",
            "",
            "* Epics in progress need an owner",
            "* Estimate missing&#58; [fix|https://x/y]",
            "",
            "||Rule||Severity||How to fix||",
            "|epic&#45;has&#45;owner|high|Assign someone|",
        ]
    )


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("*bold* _it_", "&#42;bold&#42; &#95;it&#95;"),
        ("[link|http://evil]", "&#91;link&#124;http&#58;//evil&#93;"),
        ("{code}", "&#123;code&#125;"),
        ("!image.png!", "&#33;image.png&#33;"),
        (
            "-strike- +under+ ^sup^ ~sub~ ??cite??",
            "&#45;strike&#45; &#43;under&#43; &#94;sup&#94; &#126;sub&#126; &#63;&#63;cite&#63;&#63;",
        ),
        ("# not a list", "&#35; not a list"),
        ("line\nbreak", "line break"),
        # a backslash escape would double it, and "\\" is a forced line break
        ("must match /^[A-Z]+-\\d+/", "must match /&#94;&#91;A&#45;Z&#93;&#43;&#45;&#92;d&#43;/"),
        # "\|" still splits a table cell: the pipe must not be in the markup at all
        ("a|b", "a&#124;b"),
        # emoticons render as images
        (":D :P :) :( ;)", "&#58;D &#58;P &#58;&#41; &#58;&#40; &#59;&#41;"),
        (
            "(y) (on) (*r) (/) (flag)",
            "&#40;y&#41; &#40;on&#41; &#40;&#42;r&#41; &#40;/&#41; &#40;flag&#41;",
        ),
        # bare URLs become live links
        ("T=https://evil.example/login", "T=https&#58;//evil.example/login"),
        ("mail mailto:x@evil.example", "mail mailto&#58;x@evil.example"),
        # an entity typed by a person is shown as typed
        ("&#124; &amp;", "&#38;&#35;124&#59; &#38;amp&#59;"),
    ],
)
def test_wiki_escape(text, escaped):
    assert wiki_escape(text) == escaped


@pytest.mark.parametrize("start", ["h1. Big", "H2. Big", "bq. quote", "BQ. quote", "h6.x"])
def test_wiki_user_text_cannot_start_a_heading_or_quote(start):
    wiki = Document("t", [Paragraph(start)]).to_wiki()
    paragraph = wiki.splitlines()[-1]
    assert not re.match(r"(?i)(h[1-6]|bq)\.", paragraph)
    assert html.unescape(paragraph) == start


def test_wiki_user_text_cannot_break_a_table():
    wiki = Document("t", [Table(["h|x"], [["x\n|y", "a\\\\b"]])]).to_wiki()
    header, row = wiki.splitlines()[-2:]
    assert header == "||h&#124;x||"
    assert row == "|x &#124;y|a&#92;&#92;b|"
    assert row.count("|") == 3 and "\\" not in row


def test_wiki_unsafe_link_is_plain_text():
    wiki = Document("t", [Paragraph(Link("x", "javascript:alert(1)"))]).to_wiki()
    assert "[" not in wiki.split("\n", 1)[1]


# -- HTML ------------------------------------------------------------------------------


def test_html_layout_and_escaping():
    doc = Document(
        "<script>alert(1)</script>",
        [
            Paragraph("Tom & Jerry <b>", Link('say "hi"', 'https://x/?q="a"&b=<c>')),
            BulletList(["<li>"]),
            Table(["<th>"], [["<td>"]]),
        ],
    )
    out = doc.to_html()
    assert out.startswith(
        "<h3>&lt;script&gt;alert(1)&lt;/script&gt; · PMO compliance (pmo-bridge)</h3>"
    )
    assert (
        '<p>Tom &amp; Jerry &lt;b&gt; <a href="https://x/?q=&quot;a&quot;&amp;b=&lt;c&gt;">' in out
    )
    assert "say &quot;hi&quot;</a></p>" in out
    assert "<ul><li>&lt;li&gt;</li></ul>" in out
    assert (
        "<table><thead><tr><th>&lt;th&gt;</th></tr></thead><tbody><tr><td>&lt;td&gt;</td></tr></tbody></table>"
        in out
    )


def test_html_unsafe_link_is_plain_text():
    out = Document("t", [Paragraph(Link("x", " JavaScript:alert(1)"))]).to_html()
    assert "href" not in out and "<p>x</p>" in out


# -- text ------------------------------------------------------------------------------


def test_text_rendering():
    assert DOC.to_text() == "\n".join(
        [
            f"PAY-12 needs attention · {MARKER}",
            "",
            "2 rules fail. PMO standard <https://pmo.example/standard#2.1>",
            "",
            "- Epics in progress need an owner",
            "- Estimate missing: fix <https://x/y>",
            "",
            "Rule | Severity | How to fix",
            "epic-has-owner | high | Assign someone",
        ]
    )


# -- properties: no user text escapes its renderer ---------------------------------------

user_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
# No per-example deadline: these properties assert what is rendered, not how fast, and an
# example's wall time on a loaded machine says nothing about the renderer (Hypothesis'
# default 200 ms deadline made them fail under load).
UNTIMED = settings(deadline=None)


@UNTIMED
@given(user_text)
def test_html_never_lets_markup_through(text):
    out = Document(text, [Paragraph(text), BulletList([text]), Table([text], [[text]])]).to_html()
    stripped = re.sub(r"</?(h3|p|ul|li|table|thead|tbody|tr|th|td)>", "", out)
    assert "<" not in stripped and ">" not in stripped
    assert contains_marker(out)


@UNTIMED
@given(user_text)
def test_wiki_escaping_round_trips(text):
    one_line = " ".join(text.split())
    escaped = wiki_escape(text)
    assert html.unescape(escaped) == one_line
    assert not re.search(r"[\\|*_+^~?{}\[\]!#()]|:[)(DPdp]|;\)|://", re.sub(r"&#\d+;", "", escaped))
    body = Document(text, [Paragraph(text)]).to_wiki()
    assert contains_marker(body)
    assert body.count("\n") == 2  # heading, blank, paragraph: user text adds no lines


@UNTIMED
@given(user_text)
def test_adf_text_is_the_text(text):
    adf = Document("t", [Paragraph(text)]).to_adf()
    assert_valid_adf(adf)
    assert body_text(adf).splitlines()[1] == " ".join(text.split())


def test_body_text_unescapes_html():
    assert body_text("<p>a &amp; b</p>").strip() == "a & b"
    assert body_text("h3. a \\- b") == "h3. a \\- b"  # wiki markup is left as it is


def test_marker_survives_angle_brackets_in_wiki_text():
    # "<" in a title and ">" further down must not read as an HTML tag around the marker.
    wiki = Document("x < y", [Paragraph("a > b")]).to_wiki()
    assert contains_marker(wiki)


# -- properties: every document the builder makes is valid in every format ----------------

inline = st.one_of(
    user_text,
    st.builds(Link, user_text, st.sampled_from(["https://x.example/a", "javascript:x()", ""])),
)
inlines = st.one_of(inline, st.lists(inline, max_size=3))
blocks = st.one_of(
    st.builds(lambda parts: Paragraph(*parts), st.lists(inline, max_size=3)),
    st.builds(BulletList, st.lists(inlines, max_size=3)),
    st.builds(
        Table, st.lists(user_text, max_size=3), st.lists(st.lists(inlines, max_size=3), max_size=3)
    ),
)
documents = st.builds(Document, user_text, st.lists(blocks, max_size=5))
WIKI_BLOCK_START = re.compile(r"(?i)(h[1-6]|bq)\.|[*#-]+ |\||\{|----|!")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_every_document_is_valid_adf(doc):
    assert_valid_adf(doc.to_adf())


@UNTIMED
@given(documents)
def test_no_wiki_line_starts_a_block_the_document_did_not_ask_for(doc):
    lines = doc.to_wiki().splitlines()
    assert lines[0].startswith("h3. ") and contains_marker(doc.to_wiki())
    for line in lines[1:]:
        if line.startswith(("* ", "|")):  # the document's own lists and tables
            assert "\\\\" not in line
            continue
        assert not WIKI_BLOCK_START.match(line), line


def test_empty_list_and_table_are_left_out_of_every_format():
    doc = Document("t", [BulletList([]), Table([], []), Table([], [[]]), Paragraph("x")])
    assert doc.blocks == (Paragraph("x"),)
    assert [b["type"] for b in doc.to_adf()["content"]] == ["heading", "paragraph"]
    assert_valid_adf(doc.to_adf())
    assert "<ul>" not in doc.to_html() and "<table>" not in doc.to_html()
    headless = Document("t", [Table([], [["a", "b"]])])
    assert_valid_adf(headless.to_adf())
    assert headless.to_wiki().splitlines()[-1] == "|a|b|"
