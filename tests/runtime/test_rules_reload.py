"""Rules hot reload: changed files are picked up without a restart; a broken file is
refused with its PATH:LINE:COL errors (log and /readyz) and the last good rules run on."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.support.service import SERVICE_PACK, make_settings
from webhooks.http.app import create_app
from webhooks.rulesource import RuleSource

GOOD_EXTRA = """
  - id: bugs-have-priority
    title: Bugs carry a priority
    severity: low
    when: {type: [bug]}
    require:
      - {field: priority, present: true}
"""


def touch_later(path: Path) -> None:
    """Rewrite time must differ from the last check even on coarse clocks."""
    stamp = time.time() + 2
    os.utime(path, (stamp, stamp))


@pytest.fixture
def pack(tmp_path) -> Path:
    path = tmp_path / "packs" / "live.yaml"
    path.parent.mkdir()
    shutil.copy(SERVICE_PACK, path)
    return path


def rule_ids(source: RuleSource) -> set[str]:
    return {rule.id for rule in source.current().rules}


def test_changed_file_is_picked_up_without_restart(pack):
    source = RuleSource((str(pack.parent),), check_interval=0)
    assert "bugs-have-priority" not in rule_ids(source)
    text = pack.read_text()
    pack.write_text(text.replace("\nrollups:", GOOD_EXTRA + "\nrollups:"))
    touch_later(pack)
    assert "bugs-have-priority" in rule_ids(source)
    assert source.status()["ok"]


def test_broken_file_is_refused_and_last_good_rules_keep_running(pack, caplog):
    source = RuleSource((str(pack),), check_interval=0)
    before = rule_ids(source)
    pack.write_text(pack.read_text().replace("severity: medium", "severity: urgent"))
    touch_later(pack)
    with caplog.at_level(logging.ERROR):
        assert rule_ids(source) == before  # still the last good rules
    status = source.status()
    assert not status["ok"] and status["running_last_good"]
    assert any(f"{pack}:" in e and "severity" in e for e in status["errors"])
    line, col = status["errors"][0].split(":")[1:3]
    assert line.isdigit() and col.isdigit()
    assert any(r.message == "rules.reload_refused" for r in caplog.records)

    pack.write_text(pack.read_text().replace("severity: urgent", "severity: medium"))
    touch_later(pack)
    rule_ids(source)
    assert source.status()["ok"]


def test_readyz_shows_refused_rules_and_admin_reload(tmp_path, pack, monkeypatch):
    monkeypatch.setenv("PMO_BRIDGE_ADMIN_TOKEN", "admin-token-for-tests")
    app = create_app(settings=make_settings(tmp_path, rules=(str(pack),)))
    client = app.test_client()
    assert client.get("/readyz").status_code == 200

    pack.write_text("version: 1\nname: broken\nrules:\n  - id: x\n    require: nope\n")
    touch_later(pack)
    denied = client.post("/admin/reload")
    assert denied.status_code == 401
    reload = client.post("/admin/reload", headers={"Authorization": "Bearer admin-token-for-tests"})
    assert reload.status_code == 422
    assert any(":5:" in e for e in reload.get_json()["errors"])

    ready = client.get("/readyz")
    assert ready.status_code == 200  # still serving with the last good rules
    rules = ready.get_json()["checks"]["rules"]
    assert rules["running_last_good"] and rules["errors"]


def test_start_up_with_broken_rules_fails_with_one_clear_error(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nrules:\n  - id: a\n    bogus: 1\n")
    from config.settings import ConfigError

    with pytest.raises(ConfigError) as exc:
        RuleSource((str(broken),))
    assert f"{broken}:4:5:" in str(exc.value)
