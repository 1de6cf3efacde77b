"""Mentions in the form each tracker notifies: a Jira Cloud ADF `mention` node by
accountId (valid under Atlassian's ADF schema), Jira Data Center `[~username]`, Azure
DevOps the `data-vss-mention` anchor by identity id; names without an account are plain
text; people found through Jira's user search, checked against the vendor spec."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from config.settings import TrackerConfig
from connector.document import Document, Mention, Paragraph
from connector.trackers import make_client
from sandbox.adf import adf_problems
from tests.support.spec_check import assert_documented

JIRA = "https://acme.atlassian.net"


def doc(*parts) -> Document:
    return Document(title="PMO escalation", blocks=(Paragraph(*parts),), marker="m")


def test_jira_cloud_mention_is_an_adf_mention_node_by_account_id() -> None:
    adf = doc(Mention("Priya Shah", "557058:f1a2"), "please unblock PAY-7").to_adf()
    assert adf["content"][1]["content"] == [
        {"type": "mention", "attrs": {"id": "557058:f1a2", "text": "@Priya Shah"}},
        {"type": "text", "text": " "},
        {"type": "text", "text": "please unblock PAY-7"},
    ]
    assert adf_problems(adf) == []


def test_jira_data_center_mention_is_the_wiki_user_link() -> None:
    assert (
        doc(Mention("Priya Shah", "priya.shah"), "see PAY-7")
        .to_wiki()
        .endswith("[~priya.shah] see PAY&#45;7")
    )


@pytest.mark.parametrize("account", ["a]b", "x y", "{code}", "a|b"])
def test_a_user_name_that_would_break_the_wiki_token_is_written_as_plain_text(account) -> None:
    wiki = doc(Mention("Priya Shah", account)).to_wiki()
    assert "[~" not in wiki and wiki.endswith("Priya Shah")


def test_azure_devops_mention_is_the_vss_mention_anchor_by_identity_id() -> None:
    html = doc(Mention("Priya <Shah>", "8c4f-31d2"), "see 4711").to_html()
    assert (
        '<a href="#" data-vss-mention="version:2.0,8c4f-31d2">@Priya &lt;Shah&gt;</a> see 4711'
        in html
    )


def test_an_identity_id_cannot_break_out_of_the_attribute() -> None:
    html = doc(Mention("X", 'id" onclick="alert(1)')).to_html()
    assert 'onclick="' not in html and "&quot;" in html


def test_without_an_account_the_name_is_plain_text_everywhere() -> None:
    d = doc(Mention("Priya Shah"), "see PAY-7")
    assert "mention" not in json.dumps(d.to_adf()) and adf_problems(d.to_adf()) == []
    assert "[~" not in d.to_wiki()
    assert "data-vss-mention" not in d.to_html() and "Priya Shah" in d.to_html()
    assert "@Priya Shah see PAY-7" in d.to_text()


def tracker(deployment: str) -> TrackerConfig:
    return TrackerConfig(
        name="jira", kind="jira", url=JIRA, deployment=deployment, user_env="U", token_env="T"
    )


@pytest.mark.parametrize(
    ("deployment", "param", "answer", "account"),
    [
        ("cloud", "query", [{"accountId": "557058:f1a2", "displayName": "Priya Shah", "active": True}],
         "557058:f1a2"),
        ("server", "username", [{"name": "priya.shah", "displayName": "Priya Shah", "active": True}],
         "priya.shah"),
    ],
)  # fmt: skip
def test_people_are_found_through_jira_user_search(deployment, param, answer, account) -> None:
    client = make_client(tracker(deployment), environ={"U": "bot@acme.example", "T": "t"})
    version = "3" if deployment == "cloud" else "2"
    with responses.RequestsMock() as rsps:
        rsps.add("GET", f"{JIRA}/rest/api/{version}/user/search", json=answer)
        person = client.find_user("priya@example.com")
        [call] = rsps.calls
        assert_documented(call.request, "jira", JIRA)
    assert parse_qs(urlsplit(call.request.url).query)[param] == ["priya@example.com"]
    assert (person.display_name, person.account_id) == ("Priya Shah", account)


def test_inactive_users_are_not_mentioned() -> None:
    client = make_client(tracker("cloud"), environ={"U": "bot@acme.example", "T": "t"})
    with responses.RequestsMock() as rsps:
        rsps.add(
            "GET", f"{JIRA}/rest/api/3/user/search",
            json=[{"accountId": "old", "displayName": "Priya Shah", "active": False}],
        )  # fmt: skip
        assert client.find_user("Priya Shah") is None
