"""The managed-comment document: valid ADF, Jira wiki markup, HTML and text, with the
marker always present and every piece of user text escaped."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
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

# ADF: which node types may contain which (the subset this renderer emits).
ADF_CHILDREN = {
    "doc": {"heading", "paragraph", "bulletList", "table"},
    "heading": {"text"},
    "paragraph": {"text"},
    "bulletList": {"listItem"},
    "listItem": {"paragraph"},
    "table": {"tableRow"},
    "tableRow": {"tableHeader", "tableCell"},
    "tableHeader": {"paragraph"},
    "tableCell": {"paragraph"},
}


def assert_valid_adf(node, parent="doc"):
    if node["type"] == "text":
        assert isinstance(node["text"], str) and node["text"], "ADF text nodes must not be empty"
        for mark in node.get("marks", []):
            assert mark["type"] == "link" and mark["attrs"]["href"].startswith("http")
        return
    for child in node.get("content", []):
        assert child["type"] in ADF_CHILDREN[node["type"]], (node["type"], child["type"])
        assert_valid_adf(child, node["type"])


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
            f"h3. PAY\\-12 needs attention · {MARKER}",
            "",
            "2 rules fail. [PMO standard|https://pmo.example/standard#2.1]",
            "",
            "* Epics in progress need an owner",
            "* Estimate missing: [fix|https://x/y]",
            "",
            "||Rule||Severity||How to fix||",
            "|epic\\-has\\-owner|high|Assign someone|",
        ]
    )


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("*bold* _it_", r"\*bold\* \_it\_"),
        ("a|b", r"a\|b"),
        ("[link|http://evil]", r"\[link\|http://evil\]"),
        ("{code}", r"\{code\}"),
        ("!image.png!", r"\!image.png\!"),
        (
            "-strike- +under+ ^sup^ ~sub~ ??cite??",
            r"\-strike\- \+under\+ \^sup\^ \~sub\~ \?\?cite\?\?",
        ),
        ("# not a list", r"\# not a list"),
        ("(y) (on)", r"\(y\) \(on\)"),
        ("back\\slash", r"back\\slash"),
        ("line\nbreak", "line break"),
    ],
)
def test_wiki_escape(text, escaped):
    assert wiki_escape(text) == escaped


def test_wiki_user_text_cannot_start_a_heading_or_break_a_table():
    doc = Document("t", [Paragraph("h1. Big"), Table(["h"], [["x\n|y"]])])
    wiki = doc.to_wiki()
    assert "\nh1. Big" not in wiki and "h1\\. Big" in wiki
    assert wiki.endswith("|x \\|y|")


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


@given(user_text)
def test_html_never_lets_markup_through(text):
    out = Document(text, [Paragraph(text), BulletList([text]), Table([text], [[text]])]).to_html()
    stripped = re.sub(r"</?(h3|p|ul|li|table|thead|tbody|tr|th|td)>", "", out)
    assert "<" not in stripped and ">" not in stripped
    assert contains_marker(out)


@given(user_text)
def test_wiki_escaping_round_trips(text):
    one_line = " ".join(text.split())
    assert re.sub(r"\\(.)", r"\1", wiki_escape(text)) == one_line
    body = Document(text, [Paragraph(text)]).to_wiki()
    assert contains_marker(body)
    assert body.count("\n") == 2  # heading, blank, paragraph: user text adds no lines


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
