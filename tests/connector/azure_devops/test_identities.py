"""Azure DevOps identity search for @mentions, against mocked HTTP: the request is the
documented Identities - Read Identities call on the organisation's vssps host (checked
against Microsoft's spec), the answer is read in the recorded shape, and only one exact,
active user is ever taken."""

from __future__ import annotations

import base64
import copy
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from config.settings import TrackerConfig
from connector.azure_devops.identities import identities_url, pick_identity
from connector.errors import RateLimited
from connector.trackers import make_client
from tests.support.helpers import SPECS
from tests.support.spec_check import assert_documented

URL = "https://dev.azure.com/fabrikam"
VSSPS = "https://vssps.dev.azure.com/fabrikam"
ENV = {"AZURE_DEVOPS_PAT": "pat-s3cret"}
EXAMPLE = json.loads(
    (SPECS / "azure-devops" / "examples" / "identities_GET__SearchIdentityByEmail.json").read_text()
)
ANSWER = EXAMPLE["responses"]["200"]["body"]  # {"count": 1, "value": [Jia-hao Tseng]}
JIA = "81fa6389-0872-6fdd-a451-7ba7880f566a"


def client(calls: list | None = None):
    tracker = TrackerConfig(
        name="azure-devops", kind="azure-devops", url=URL, token_env="AZURE_DEVOPS_PAT"
    )
    on_call = (lambda *a: calls.append(a)) if calls is not None else None
    return make_client(tracker, environ=ENV, on_call=on_call)


@responses.activate
def test_find_user_asks_the_identities_api_on_the_vssps_host() -> None:
    responses.add("GET", f"{VSSPS}/_apis/identities", json=ANSWER)
    calls: list = []
    person = client(calls).find_user("jtseng@vscsi.us")
    assert (person.display_name, person.account_id) == ("Jia-hao Tseng", JIA)
    [call] = responses.calls
    assert_documented(call.request, "azure-devops-identities", VSSPS)
    assert dict(parse_qsl(urlsplit(call.request.url).query)) == {
        "searchFilter": "General",
        "filterValue": "jtseng@vscsi.us",
        "queryMembership": "None",
        "api-version": "7.1",
    }
    token = base64.b64encode(b":pat-s3cret").decode()
    assert call.request.headers["Authorization"] == f"Basic {token}"
    assert [c[:3] for c in calls] == [("azure-devops", "find_user", 200)]


@pytest.mark.parametrize("query", ["Jia-hao Tseng", "JTSENG@vscsi.us"])
def test_display_name_and_unique_name_match_case_folded(query: str) -> None:
    assert pick_identity(ANSWER, query)["id"] == JIA
    assert pick_identity(ANSWER["value"], query)["id"] == JIA  # the spec's bare list


def _variant(**changes) -> dict:
    identity = copy.deepcopy(ANSWER["value"][0])
    identity.update(changes)
    return identity


def test_nobody_is_taken_unless_one_active_user_matches_exactly() -> None:
    jia = ANSWER["value"][0]
    assert pick_identity({"count": 0, "value": []}, "jtseng@vscsi.us") is None
    assert pick_identity(ANSWER, "jtseng") is None  # a partial match is no match
    twins = {"value": [jia, _variant(id="another")]}
    assert pick_identity(twins, "Jia-hao Tseng") is None  # ambiguous: nobody
    group = _variant(isContainer=True)
    assert pick_identity({"value": [group]}, "Jia-hao Tseng") is None
    gone = _variant(isActive=False)
    assert pick_identity({"value": [gone, jia]}, "Jia-hao Tseng")["id"] == JIA
    assert pick_identity({"value": "garbage"}, "x") is None


@responses.activate
def test_a_rate_limit_is_the_trackers_rate_limit() -> None:
    responses.add(
        "GET", f"{VSSPS}/_apis/identities", status=429, headers={"Retry-After": "30"}, json={}
    )
    with pytest.raises(RateLimited) as caught:
        client().find_user("jtseng@vscsi.us")
    assert caught.value.retry_after == 30


@pytest.mark.parametrize(
    ("org", "endpoint"),
    [
        (URL, f"{VSSPS}/_apis/identities"),
        ("https://fabrikam.visualstudio.com/", "https://fabrikam.vssps.visualstudio.com/_apis/identities"),
        ("https://tfs.example.com/tfs/DefaultCollection", "https://tfs.example.com/tfs/DefaultCollection/_apis/identities"),
    ],
)  # fmt: skip
def test_the_identities_endpoint_of_services_and_server(org: str, endpoint: str) -> None:
    assert identities_url(org) == endpoint
