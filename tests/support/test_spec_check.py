"""The spec checker itself: it must accept documented requests and name what is wrong
with undocumented ones, or the client tests that lean on it prove nothing."""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.spec_check import assert_documented, check_request

JIRA = "https://acme.atlassian.net"
ADO = "https://dev.azure.com/fabrikam"


def adf(*blocks):
    return {"type": "doc", "version": 1, "content": list(blocks)}


ADF = adf({"type": "paragraph", "content": [{"type": "text", "text": "x"}]})
EMPTY_LIST = adf({"type": "bulletList", "content": []})
LONG_ADF = adf({"type": "paragraph", "content": [{"type": "text", "text": "x" * 32_700}]})


def req(method: str, url: str, body=None, *, headers=None, params=None):
    data = None if body is None else json.dumps(body)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    return requests.Request(method, url, data=data, headers=hdrs, params=params).prepare()


def ado(method: str, url: str, body=None, *, version="7.1", content_type="application/json"):
    return req(
        method,
        url,
        body,
        headers={
            "Accept": f"application/json;api-version={version}",
            "Content-Type": f"{content_type}; charset=utf-8",
        },
    )


@pytest.mark.parametrize(
    "request_",
    [
        req("GET", f"{JIRA}/rest/api/3/issue/PAY-12"),
        req("GET", f"{JIRA}/rest/api/2/issue/PAY-12"),  # v2 is checked against v3's operation
        req(
            "PUT",
            f"{JIRA}/rest/api/3/issue/PAY-12?notifyUsers=false",
            {"update": {"labels": [{"add": "pmo-x"}, {"remove": "pmo-y"}]}},
        ),
        req("PUT", f"{JIRA}/rest/api/3/issue/PAY-12", {"fields": {"customfield_10100": 40}}),
        req(
            "PUT",
            f"{JIRA}/rest/api/3/issue/PAY-12",
            {"update": {"labels": [{"add": "pmo-x"}], "comment": [{"add": {"body": ADF}}]}},
        ),
        req(
            "PUT",
            f"{JIRA}/rest/api/2/issue/PAY-12",
            {"update": {"comment": [{"add": {"body": "x"}}]}},
        ),
        req("GET", f"{JIRA}/rest/api/3/issue/PAY-12/comment?orderBy=-created&maxResults=1"),
        req("POST", f"{JIRA}/rest/api/3/issue/PAY-12/comment", {"body": ADF}),
        req(
            "PUT", f"{JIRA}/rest/api/3/issue/PAY-12/comment/10001?notifyUsers=false", {"body": ADF}
        ),
        req("PUT", f"{JIRA}/rest/api/2/issue/PAY-12/comment/10001", {"body": "h3. x"}),
        req("GET", f"{JIRA}/rest/api/3/issue/PAY-12/comment?startAt=0&maxResults=100"),
        req("POST", f"{JIRA}/rest/api/2/search", {"jql": "project = PAY", "startAt": 0}),
        req("POST", f"{JIRA}/rest/api/3/search/jql", {"jql": "x", "nextPageToken": "t"}),
        req("GET", f"{JIRA}/rest/api/3/search/jql?jql=x&nextPageToken=t"),
        req("POST", f"{JIRA}/rest/api/3/search/approximate-count", {"jql": "x"}),
        req("GET", f"{JIRA}/rest/api/3/myself"),
    ],
    ids=lambda r: f"{r.method} {r.path_url}",
)
def test_documented_jira_requests_pass(request_):
    assert_documented(request_, "jira", JIRA)


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (req("GET", f"{JIRA}/rest/api/3/issues/PAY-12"), "no such path"),
        (req("PATCH", f"{JIRA}/rest/api/3/issue/PAY-12", {"fields": {}}), "PATCH not documented"),
        (req("PUT", f"{JIRA}/rest/api/3/issue/PAY-12", {"labels": ["x"]}), "key 'labels'"),
        (
            req("PUT", f"{JIRA}/rest/api/3/issue/PAY-12", {"update": {"labels": [{"plus": "x"}]}}),
            "key 'plus'",
        ),
        (req("PUT", f"{JIRA}/rest/api/3/issue/PAY-12?notify=false", {"fields": {}}), "'notify'"),
        (req("POST", f"{JIRA}/rest/api/3/issue/PAY-12/comment", {"text": "x"}), "key 'text'"),
        (req("POST", f"{JIRA}/rest/api/3/issue/PAY-12/comment", {"body": "x"}), "not valid ADF"),
        (
            req("POST", f"{JIRA}/rest/api/3/issue/PAY-12/comment", {"body": EMPTY_LIST}),
            "not valid ADF: content/0/content: [] should be non-empty",
        ),
        (
            req("PUT", f"{JIRA}/rest/api/2/issue/PAY-12/comment/1", {"body": "x" * 32_768}),
            "32768 characters, over 32767",
        ),
        (
            req("PUT", f"{JIRA}/rest/api/3/issue/PAY-12/comment/1", {"body": LONG_ADF}),
            "over 32767",
        ),
        (
            req(
                "PUT",
                f"{JIRA}/rest/api/3/issue/PAY-12",
                {"update": {"comment": [{"add": {"body": "x"}}]}},
            ),
            "not valid ADF",
        ),
        (
            req("PUT", f"{JIRA}/rest/api/3/issue/PAY-12", {"update": {"comment": [{"set": "x"}]}}),
            "is not an add",
        ),
        (req("POST", f"{JIRA}/rest/api/3/search/jql", {"jql": "x", "startAt": 50}), "'startAt'"),
        (req("PUT", f"{JIRA}/rest/api/3/issue/PAY-12"), "request body required"),
        (req("GET", "https://other.example/rest/api/3/myself"), "not under the tracker URL"),
    ],
)
def test_undocumented_jira_requests_are_named(request_, problem):
    problems = check_request(request_, "jira", JIRA)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    "request_",
    [
        ado("GET", f"{ADO}/_apis/wit/workItems/5?%24expand=relations", version="7.1-preview.3"),
        ado("GET", f"{ADO}/Fabrikam/_apis/wit/workitems/5"),  # with project, other case
        ado(
            "PATCH",
            f"{ADO}/_apis/wit/workItems/5?suppressNotifications=true",
            [{"op": "test", "path": "/rev", "value": 3}, {"op": "add", "path": "/f", "value": 1}],
            content_type="application/json-patch+json",
        ),
        ado("POST", f"{ADO}/Fabrikam/_apis/wit/wiql", {"query": "SELECT"}, version="7.1-preview.2"),
        ado("POST", f"{ADO}/_apis/wit/workitemsbatch", {"ids": [1], "$expand": "relations"}),
        ado(
            "POST",
            f"{ADO}/Fabrikam/_apis/wit/workItems/5/comments",
            {"text": "<p>x</p>"},
            version="7.1-preview.4",
        ),
        ado(
            "PATCH",
            f"{ADO}/Fabrikam/_apis/wit/workItems/5/comments/7",
            {"text": "<p>x</p>"},
            version="7.1-preview.4",
        ),
        ado(
            "GET",
            f"{ADO}/Fabrikam/_apis/wit/workItems/5/comments?%24top=200&order=asc",
            version="7.1-preview.4",
        ),
        ado(
            "GET",
            f"{ADO}/Fabrikam/_apis/wit/workItems/5/comments?%24top=1&order=desc",
            version="7.1-preview.4",
        ),
        ado(
            "PATCH",
            f"{ADO}/_apis/wit/workItems/5",
            [
                {"op": "test", "path": "/rev", "value": 3},
                {"op": "replace", "path": "/fields/System.Tags", "value": "a; pmo-x"},
                {"op": "add", "path": "/fields/System.History", "value": "<p>x</p>"},
            ],
            content_type="application/json-patch+json",
        ),
        req("GET", f"{ADO}/_apis/wit/workItems/5?api-version=7.1"),
    ],
    ids=lambda r: f"{r.method} {r.path_url}",
)
def test_documented_azure_requests_pass(request_):
    assert_documented(request_, "azure-devops", ADO)


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (ado("GET", f"{ADO}/_apis/wit/workItem/5"), "no such path"),
        (req("GET", f"{ADO}/_apis/wit/workItems/5"), "api-version missing"),
        (ado("GET", f"{ADO}/_apis/wit/workItems/5", version="6.0"), "is not 7.1"),
        (
            ado("POST", f"{ADO}/P/_apis/wit/workItems/5/comments", {"text": "x"}, version="7.1"),
            "preview",
        ),
        (
            ado(
                "POST",
                f"{ADO}/P/_apis/wit/workItems/5/comments",
                {"body": "x"},
                version="7.1-preview.4",
            ),
            "key 'body'",
        ),
        (
            ado(
                "PATCH",
                f"{ADO}/_apis/wit/workItems/5",
                [{"op": "set", "path": "/fields/System.Tags", "value": "a"}],
                content_type="application/json-patch+json",
            ),
            "'set' not one of",
        ),
        (
            ado("PATCH", f"{ADO}/_apis/wit/workItems/5", [{"op": "add", "path": "/x", "value": 1}]),
            "Content-Type",
        ),
        (ado("GET", f"{ADO}/_apis/wit/workItems/5?expand=all"), "'expand' not declared"),
        (ado("DELETE", f"{ADO}/_apis/wit/workitemsbatch"), "DELETE not documented"),
    ],
)
def test_undocumented_azure_requests_are_named(request_, problem):
    problems = check_request(request_, "azure-devops", ADO)
    assert any(problem in p for p in problems), problems
