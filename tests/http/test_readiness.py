"""/readyz answers from the state of things now: a store that takes no writes is not
ready, and the rules on disk are re-read by the check itself (a refused file shows up,
and clears when it is fixed or deleted), not only once something else reads the rules."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import event

import webhooks.resources
from tests.support.service import SERVICE_PACK, make_settings
from webhooks.http.app import create_app

BROKEN = "version: 1\nrules:\n  - id: x\n    require: nope\n"
SELF_ALIAS = "version: 1\nrules: &r\n  - id: a\n    require: *r\n"


def later(path: Path) -> None:
    stamp = time.time() + 2
    os.utime(path, (stamp, stamp))


@pytest.fixture
def packs(tmp_path) -> Path:
    folder = tmp_path / "packs"
    folder.mkdir()
    shutil.copy(SERVICE_PACK, folder / "live.yaml")
    return folder


@pytest.fixture
def service(tmp_path, packs, monkeypatch):
    monkeypatch.setattr(webhooks.resources, "READINESS_SECONDS", 0.0)
    app = create_app(settings=make_settings(tmp_path, rules=(str(packs),)))
    runtime = app.extensions["pmo_bridge"]
    runtime.rules.check_interval = 0
    return app.test_client(), runtime


def rules_check(client) -> dict:
    return client.get("/readyz").get_json()["checks"]["rules"]


def test_readyz_sees_a_broken_rules_file_by_itself_and_clears_when_it_is_deleted(service, packs):
    client, _runtime = service
    assert rules_check(client)["ok"] and not rules_check(client)["errors"]

    broken = packs / "zz-broken.yaml"
    broken.write_text(BROKEN)
    later(broken)
    # Nothing but /readyz has read the rules since the file appeared.
    check = rules_check(client)
    assert check["running_last_good"]
    assert any(e.startswith(f"{broken}:4:14:") for e in check["errors"]), check

    broken.unlink()
    check = rules_check(client)
    assert check["ok"] and check["errors"] == [] and not check["running_last_good"]


def test_an_alias_cycle_on_hot_reload_is_refused_and_fixing_the_file_clears_it(service, packs):
    client, runtime = service
    before = {rule.id for rule in runtime.rules.current().rules}
    live = packs / "live.yaml"
    good = live.read_text()
    live.write_text(SELF_ALIAS)
    later(live)
    check = rules_check(client)
    assert client.get("/readyz").status_code == 200  # the last good rules run on
    assert check["errors"] == [
        f"{live}:4:14: invalid YAML: aliases (*name) are not supported: write the value out"
    ]
    assert {rule.id for rule in runtime.rules.current().rules} == before
    assert client.get("/portfolio").status_code == 200

    live.write_text(good)
    later(live)
    assert rules_check(client)["ok"] and rules_check(client)["errors"] == []


def test_readyz_is_503_while_the_store_takes_no_writes(service):
    client, runtime = service
    assert client.get("/readyz").status_code == 200

    # A full database file: SQLite refuses to grow it past its current size.
    engine = runtime.store._engine
    engine.dispose()

    def full(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA max_page_count = 1")

    event.listen(engine, "connect", full)
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["store"] == {
            "ok": False,
            "error": "the store does not take writes",
        }
    finally:
        event.remove(engine, "connect", full)
        engine.dispose()
    assert client.get("/readyz").status_code == 200
