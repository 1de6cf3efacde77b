"""Azure DevOps identity search, for @mentions: the `data-vss-mention` anchor takes an
identity's id (its VSID, "storage key"), which work items and service hooks never carry
(they name people by unique name).

    GET https://vssps.dev.azure.com/{org}/_apis/identities
        ?searchFilter=General&filterValue={e-mail, unique name or display name}
        &queryMembership=None&api-version=7.1

(Identities - Read Identities, IMS area, REST 7.1: `specification/ims/7.1/identities.json`
in MicrosoftDocs/vsts-rest-api-specs; `General` matches the display name, account name
or unique name.) The answer is the usual `{"count", "value": [Identity]}` wrapper (the
recorded example); a bare list is read too, as the spec's schema has it. An identity
is taken when it is an active user (not a group) and the only one matching exactly;
an ambiguous or partial match is no match: a mention of the wrong person is worse than
none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

IDENTITIES_PATH = "/_apis/identities"
API_VERSION = "7.1"


def identities_url(org_url: str) -> str:
    """The identities endpoint of an organisation: Azure DevOps Services serves it on the
    `vssps` host (dev.azure.com/{org} -> vssps.dev.azure.com/{org}, {org}.visualstudio.com
    -> {org}.vssps.visualstudio.com); Azure DevOps Server on the collection URL itself."""
    parts = urlsplit(org_url.rstrip("/"))
    host = parts.netloc.lower()
    if host == "dev.azure.com":
        parts = parts._replace(netloc="vssps.dev.azure.com")
    elif host.endswith(".visualstudio.com") and ".vssps." not in host:
        parts = parts._replace(netloc=host.replace(".visualstudio.com", ".vssps.visualstudio.com"))
    return urlunsplit(parts) + IDENTITIES_PATH


def search_params(query: str) -> dict[str, str]:
    return {
        "searchFilter": "General",
        "filterValue": query[:255],
        "queryMembership": "None",
        "api-version": API_VERSION,
    }


def _property(identity: Mapping[str, Any], name: str) -> str:
    value = (identity.get("properties") or {}).get(name)
    if isinstance(value, Mapping):
        value = value.get("$value")
    return str(value) if isinstance(value, str) else ""


def identity_names(identity: Mapping[str, Any]) -> set[str]:
    """What a search value may be equal to: e-mail, account (unique name), display names."""
    names = {
        _property(identity, "Mail"),
        _property(identity, "Account"),
        str(identity.get("providerDisplayName") or ""),
        str(identity.get("customDisplayName") or ""),
    }
    return {n.casefold() for n in names if n}


def is_user(identity: Mapping[str, Any]) -> bool:
    if identity.get("isContainer"):
        return False
    kind = _property(identity, "SchemaClassName")
    return identity.get("isActive", True) is not False and kind in ("", "User")


def pick_identity(answer: Any, query: str) -> Mapping[str, Any] | None:
    """The one active user whose e-mail, account or display name is `query`; else None."""
    values = answer.get("value") if isinstance(answer, Mapping) else answer
    wanted = query.casefold()
    exact = [
        v
        for v in (values if isinstance(values, list) else ())
        if isinstance(v, Mapping) and v.get("id") and is_user(v) and wanted in identity_names(v)
    ]
    return exact[0] if len(exact) == 1 else None


def display_name(identity: Mapping[str, Any]) -> str:
    return str(
        identity.get("customDisplayName")
        or identity.get("providerDisplayName")
        or _property(identity, "Account")
        or identity.get("id")
    )
