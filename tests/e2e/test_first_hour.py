"""The README's first hour, walked in a temporary folder as a newcomer would: `pmo-bridge
demo` on a terminal stays up and hands over logins, a config and an audit command; that
command works; `init` with flags writes a config for the same trackers; `doctor` finds it
all green; Ctrl-C stops the demo and takes its files with it."""

from __future__ import annotations

import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import yaml

AUDIT = re.compile(r"^  (\. \S+ && pmo-bridge audit .+)$", re.MULTILINE)
STAYS_UP = "press Ctrl-C to stop"


class TerminalDemo:
    """`pmo-bridge demo` with a pseudo-terminal as its stdout, as when typed in a shell."""

    def __init__(self, folder: Path) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webhooks.commands.main", "demo"],
            cwd=folder,
            stdout=slave,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        os.close(slave)
        self.master = master
        self.text = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.text += chunk.decode("utf-8", "replace").replace("\r\n", "\n")

    def wait_for(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the demo never printed {needle!r}:\n{self.text}")
            time.sleep(0.2)

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        finally:
            time.sleep(0.2)
            os.close(self.master)


def shell(
    command: str, folder: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    bindir = Path(sys.executable).parent  # where `pmo-bridge` is installed
    environ = {**os.environ, **(env or {}), "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    environ.pop("PMO_BRIDGE_CONFIG", None)
    return subprocess.run(
        ["bash", "-c", command], cwd=folder, env=environ, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def sourced(env_file: Path) -> dict[str, str]:
    out = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            out[name] = value.strip("'")
    return out


def test_first_hour_from_the_demo_to_doctor(tmp_path):
    demo = TerminalDemo(tmp_path)
    try:
        demo.wait_for(STAYS_UP, 120)
        out = demo.text
        # stumble 2: every sandbox's address and login, and one curl that reads an item
        jira_url = re.search(r"Jira +(http://127\.0\.0\.1:\d+) +user (\S+) +token (\S+)", out)
        assert jira_url, out
        curl = re.search(r"read an item: (curl -s -u (\S+):(\S+) (\S+))$", out, re.MULTILINE)
        user, token, url = curl.group(2, 3, 4)
        assert requests.get(url, auth=(user, token), timeout=10).json()["key"] == "PAY-1"
        if shutil.which("curl"):  # the command itself, as pasted
            item = shell(curl.group(1), tmp_path)
            assert '"key":"PAY-1"' in item.stdout.replace(" ", ""), item
        assert re.search(r"Azure DevOps +http://127\.0\.0\.1:\d+/fabrikam .+PAT \S+", out)

        # stumble 3: the config and env file, and the audit command as printed
        config = yaml.safe_load((tmp_path / "pmo-bridge.demo.yaml").read_text())
        env_file = tmp_path / "pmo-bridge.demo.env"
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        assert "TOKEN" not in (tmp_path / "pmo-bridge.demo.yaml").read_text().split("trackers:")[0]
        audit = shell(AUDIT.search(out).group(1), tmp_path)
        assert audit.returncode == 0, audit.stderr
        assert re.search(r"^\d+ items, \d+ non-compliant, [1-9]\d* findings", audit.stdout, re.M)
        assert "story-estimated" in audit.stdout

        # init with flags, for the same trackers, with the names init gives the secrets
        demo_env = sourced(env_file)
        jira, azure = config["trackers"]["jira"], config["trackers"]["azure-devops"]
        init = shell(
            f"pmo-bridge init --no-input --jira-url {jira['url']} --jira-projects PAY,WEB "
            f"--jira-bot-account {jira['bot_account']} --azure-url {azure['url']} "
            f"--azure-project {azure['project']} --azure-bot-account {azure['bot_account']} "
            "--field jira.estimate=customfield_10016",
            tmp_path,
        )
        assert init.returncode == 0, init.stderr
        assert "pmo-bridge rules test" in init.stdout and "pmo-bridge register" in init.stdout
        assert "pmo-rules/pmo-standard.waivers.yaml" in init.stdout  # where exemptions go
        tests = shell("pmo-bridge rules test pmo-rules", tmp_path)
        assert tests.returncode == 0, tests.stdout
        checked = shell("pmo-bridge rules validate pmo-rules", tmp_path)
        assert checked.returncode == 0, checked.stdout

        secrets = {
            "JIRA_EMAIL": demo_env["PMO_BRIDGE_DEMO_JIRA_USER"],
            "JIRA_API_TOKEN": demo_env["PMO_BRIDGE_DEMO_JIRA_TOKEN"],
            "JIRA_WEBHOOK_SECRET": demo_env["PMO_BRIDGE_DEMO_JIRA_WEBHOOK_SECRET"],
            "AZURE_DEVOPS_PAT": demo_env["PMO_BRIDGE_DEMO_AZURE_DEVOPS_PAT"],
            "AZURE_DEVOPS_WEBHOOK_SECRET": demo_env["PMO_BRIDGE_DEMO_AZURE_DEVOPS_WEBHOOK_SECRET"],
        }
        doctor = shell(
            f"pmo-bridge doctor --config pmo-bridge.yaml --url {config['public_url']}",
            tmp_path,
            secrets,
        )
        assert doctor.returncode == 0, doctor.stdout
        assert "FAIL" not in doctor.stdout and "all checks passed" in doctor.stdout
        for line in ("credentials", "comment PAY", "labels WEB", "field estimate",
                     "webhook", "secret (ping)"):  # fmt: skip
            assert re.search(rf"^ok +jira +{re.escape(line)}", doctor.stdout, re.M), doctor.stdout
        for line in ("credentials", "read Fabrikam", "comment Fabrikam", "tags Fabrikam",
                     "webhook", "secret (ping)"):  # fmt: skip
            assert re.search(rf"^ok +azure-devops +{re.escape(line)}", doctor.stdout, re.M)
        assert "warn" not in doctor.stdout

        # a wrong token and a missing field: the red lines, each with its fix
        broken = yaml.safe_load((tmp_path / "pmo-bridge.yaml").read_text())
        broken["trackers"]["jira"]["fields"]["risk_owner"] = "customfield_99999"
        (tmp_path / "pmo-bridge.broken.yaml").write_text(yaml.safe_dump(broken))
        red = shell(
            f"pmo-bridge doctor --config pmo-bridge.broken.yaml --url {config['public_url']}",
            tmp_path,
            {**secrets, "AZURE_DEVOPS_PAT": "not-the-pat"},
        )
        assert red.returncode == 1
        assert re.search(r"^FAIL jira +field risk_owner +no field 'customfield_99999' on the "
                         r"site\n +fix: ", red.stdout, re.M), red.stdout  # fmt: skip
        assert re.search(r"^ok +jira +field estimate", red.stdout, re.M)
        assert re.search(r"^FAIL azure-devops +credentials +.*401.*\n +fix: check "
                         r"AZURE_DEVOPS_PAT", red.stdout, re.M), red.stdout  # fmt: skip
        assert red.stdout.count("FAIL") == 2, red.stdout  # nothing else, consequences neither
        assert re.search(r"^warn azure-devops +webhook +could not check: the tracker refused",
                         red.stdout, re.M)  # fmt: skip

        # the same config with a secret the service does not hold: the ping says so
        wrong = shell(
            f"pmo-bridge doctor --config pmo-bridge.yaml --tracker jira --url {config['public_url']}",
            tmp_path,
            {**secrets, "JIRA_WEBHOOK_SECRET": "not-the-secret"},
        )
        assert wrong.returncode == 1
        assert re.search(r"^FAIL jira +secret \(ping\) .+401", wrong.stdout, re.M), wrong.stdout
    finally:
        code = demo.interrupt()
    assert code == 0, demo.text
    assert "Stopping." in demo.text
    assert not (tmp_path / "pmo-bridge.demo.yaml").exists()
    assert not (tmp_path / "pmo-bridge.demo.env").exists()


def test_doctor_names_the_permission_a_read_only_azure_devops_bot_lacks(tmp_path):
    """The first hour's doctor, against a sandbox whose bot may read but not edit work
    items nor create tags: the comment and tags lines are red and name what to grant."""
    from sandbox import Sandbox

    box = Sandbox(organization="fabrikam").start()
    try:
        azure = box.azure_state
        azure.known_credentials_only = True
        azure.add_user("bot@fabrikam.com", "PMO Bot", pat="bot-pat")
        azure.add_project("Fabrikam")
        for action in (("CSS", "WORK_ITEM_WRITE"), ("CSS", "WORK_ITEM_SAVE_COMMENT"),
                       ("Tagging", "Create")):  # fmt: skip
            azure.permissions.deny("bot@fabrikam.com", *action)
        init = shell(
            f"pmo-bridge init --no-input --azure-url {box.azure_url} --azure-project Fabrikam "
            "--azure-bot-account bot@fabrikam.com",
            tmp_path,
        )
        assert init.returncode == 0, init.stderr
        doctor = shell("pmo-bridge doctor --config pmo-bridge.yaml", tmp_path,
                       {"AZURE_DEVOPS_PAT": "bot-pat"})  # fmt: skip
    finally:
        box.stop()
    out = doctor.stdout
    assert doctor.returncode == 1, out
    assert re.search(r"^ok +azure-devops +read Fabrikam +allowed", out, re.M), out
    assert re.search(
        r"^FAIL azure-devops +comment Fabrikam +missing 'Edit work items in this node'\n"
        r" +fix: allow the bot 'Edit work items in this node' in the project's root area",
        out,
        re.M,
    ), out
    assert re.search(
        r"^FAIL azure-devops +tags Fabrikam +missing 'Edit work items in this node', "
        r"'Create tag definition'\n +fix: .*'Create tag definition' in the project's "
        r"permissions",
        out,
        re.M,
    ), out
