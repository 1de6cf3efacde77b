"""The PMO report from a real store: RAG changes since the last report, findings per
project and rule with trends, overdue items, escalations, slips and work in progress;
Markdown, HTML e-mail (inline styles, no scripts) and CSV (no formulas); sent by
`pmo-bridge report --send` to a real SMTP server and on the configured schedule."""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import io
from html.parser import HTMLParser
from pathlib import Path

import pytest

from config.notify import Channel, Notify, ReportSchedule
from connector.model import ItemType, Person, StatusCategory, WorkItem
from rules.rollup import Rollup
from tests.support.notify_servers import SMTP_PASSWORD, SMTP_USER, self_signed, start_smtp
from webhooks.commands.main import main
from webhooks.governance.report import build_report, over_allocated_people
from webhooks.governance.report_render import render_csv, render_html, render_md
from webhooks.governance.report_send import run_scheduled_reports
from webhooks.store import Store
from webhooks.store.escalation import Escalation

NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)  # a Monday
DAY = dt.timedelta(days=1)


def item(key: str, type_: ItemType = ItemType.STORY, **changes) -> WorkItem:
    base = dict(
        key=key, tracker="jira", native_id=key.split(":")[1], project=key.split(":")[1].split("-")[0],
        type=type_, title=f"Item {key}", status="In Progress",
        status_category=StatusCategory.IN_PROGRESS, assignee=Person("Sam Lee", "sam"),
    )  # fmt: skip
    base.update(changes)
    return WorkItem(**base)


def rollup(key: str, rag: str, slip: int | None = None, reasons: tuple[str, ...] = ()) -> Rollup:
    return Rollup(
        parent_key=key, children=3, by_category={"in_progress": 3}, done=0, points_total=0,
        points_done=0, leaves_total=3, leaves_done=0, progress=0.0, start=None, due=None,
        target_due=dt.date(2026, 12, 1), forecast_end=dt.date(2026, 12, 15), overdue_children=1,
        blocked_children=1, noncompliant_children=0, slip_days=slip, progress_behind=None,
        rag=rag, rag_reasons=reasons, throughput_per_day=0.5, recent_done_points=0,
        recent_done_leaves=1,
    )  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    s = Store(url)
    s.migrate()
    s.upsert_item(item("jira:PAY-1", ItemType.EPIC, title="Payments v2"))
    s.upsert_item(item("jira:PAY-7", due_date=dt.date(2026, 12, 1), title='=HYPERLINK("x")'))
    s.upsert_item(item("jira:PAY-8", assignee=Person("Priya Shah", "priya")))
    s.upsert_item(item("jira:WEB-3", status_category=StatusCategory.DONE))
    s.save_rollup("jira:PAY-1", rollup("jira:PAY-1", "red", 14, ("slip 14 days", "1 blocked")))
    fail = {"rule": "story-estimated", "message": "m", "status": "fail"}
    s.save_findings("jira:PAY-7", [fail], NOW - 10 * DAY)  # open before and after
    s.save_findings("jira:PAY-8", [fail], NOW - 3 * DAY)  # new
    s.save_findings("jira:WEB-3", [fail], NOW - 20 * DAY)
    s.save_findings("jira:WEB-3", [], NOW - 2 * DAY)  # resolved
    [episode] = s.open_episodes(["story-estimated"])[:1]
    s.record_escalation(
        Escalation(episode.finding_id, "jira:PAY-7", "story-estimated", 1, "Priya Shah",
                   "programme lead", None, ("comment", "pmo-mail"), NOW - 1 * DAY)
    )  # fmt: skip
    yield s
    s.close()


def test_first_report_lists_what_is_red_and_everything_in_the_period(store: Store) -> None:
    report = build_report(store, NOW)
    md = render_md(report)
    assert "## Red now (first report)" in md
    assert "| jira:PAY-1 | Payments v2 | NEW | RED | slip 14 days; 1 blocked |" in md
    assert "| PAY | story-estimated | 1 | 0 | 2 | 1 → 2 ▲ |" in md
    assert "| WEB | story-estimated | 0 | 1 | 0 | 1 → 0 ▼ |" in md
    assert '| jira:PAY-7 | PAY | =HYPERLINK("x") | 01 Dec 2026 | Sam Lee |' in md
    assert (
        "| 06 Dec 2026 | jira:PAY-7 | story-estimated | 2 | Priya Shah (programme lead) | comment, pmo-mail |"
        in md
    )
    assert "| jira:PAY-1 | Payments v2 | 14 | 15 Dec 2026 | 01 Dec 2026 |" in md
    assert "| Sam Lee | 2 |" in md and "| Priya Shah | 1 |" in md
    assert "No waiver register is connected." in md


def test_the_next_report_says_what_changed_colour(store: Store) -> None:
    report = build_report(store, NOW, previous_rag={"jira:PAY-1": "amber"})
    assert [(c.key, c.before, c.now) for c in report.rag_changes] == [
        ("jira:PAY-1", "amber", "red")
    ]
    assert "## What changed colour" in render_md(report)
    unchanged = build_report(store, NOW, previous_rag={"jira:PAY-1": "red"})
    assert unchanged.rag_changes == ()


def test_projects_limit_the_report(store: Store) -> None:
    report = build_report(store, NOW, projects=["WEB"])
    assert {a.project for a in report.activity} == {"WEB"}
    assert report.overdue == () and report.escalations == ()


def test_waivers_come_from_the_waiver_source(store: Store) -> None:
    expiring = [
        {
            "item": "jira:PAY-8",
            "rule": "story-estimated",
            "expires": "2026-12-10",
            "reason": "spike",
        }
    ]
    report = build_report(store, NOW, waivers=lambda now, until: expiring)
    assert "| jira:PAY-8 | story-estimated | 2026-12-10 | spike |" in render_md(report)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_html_is_mail_safe_inline_styles_no_scripts_no_remote_resources(store: Store) -> None:
    page = render_html(build_report(store, NOW))
    parser = _Tags()
    parser.feed(page)
    names = {tag for tag, _ in parser.tags}
    assert not names & {"script", "link", "style", "img", "iframe", "form"}
    for tag, attrs in parser.tags:
        if tag in ("table", "th", "td", "h1", "h2"):
            assert attrs.get("style"), tag
        assert not any(k.startswith("on") for k in attrs), tag
    assert "=HYPERLINK(&quot;x&quot;)" in page
    assert '<b style="color:#c62828">RED</b>' in page


def test_csv_rows_name_their_section_and_carry_no_formulas(store: Store) -> None:
    rows = list(csv.reader(io.StringIO(render_csv(build_report(store, NOW)))))
    overdue = [r for r in rows if r[0] == "Overdue items"]
    assert overdue[0][1:] == ["Item", "Project", "Title", "Due", "Assignee"]
    assert overdue[1][3] == '\'=HYPERLINK("x")'


def test_a_schedule_is_due_once_per_slot() -> None:
    weekly = ReportSchedule(every="mon 08:00", to="pmo-mail")
    assert weekly.due(None, NOW)
    assert not weekly.due(NOW, NOW + 2 * DAY)
    assert not weekly.due(NOW - 7 * DAY, NOW - dt.timedelta(minutes=1))
    assert weekly.due(NOW - 7 * DAY, NOW)
    daily = ReportSchedule(every="daily 07:30", to="pmo-mail")
    assert daily.due(NOW - DAY, NOW) and not daily.due(NOW, NOW + dt.timedelta(hours=20))


@pytest.fixture
def smtp(tmp_path: Path):
    cert, key = self_signed(tmp_path)
    mailbox, port, stop = start_smtp(cert, key)
    yield mailbox, port, cert
    stop()


def test_scheduled_report_is_mailed_once_as_html_and_text(store: Store, smtp) -> None:
    mailbox, port, cert = smtp
    channel = Channel(
        name="pmo-mail", kind="smtp", host="127.0.0.1", port=port, user_env="U",
        password_env="P", to=("pmo@example.com",), ca_file=str(cert),
    )  # fmt: skip
    notify = Notify(
        channels={"pmo-mail": channel}, reports=(ReportSchedule("mon 08:00", "pmo-mail"),)
    )
    env = {"U": SMTP_USER, "P": SMTP_PASSWORD}
    assert run_scheduled_reports(store, notify, NOW, environ=env) == [
        f"pmo-mail (e-mail to pmo@example.com via 127.0.0.1:{port})"
    ]
    assert run_scheduled_reports(store, notify, NOW + DAY, environ=env) == []
    [(_, rcpts, raw)] = mailbox.messages
    assert rcpts == ["pmo@example.com"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == "PMO report (portfolio): 30 Nov 2026 to 07 Dec 2026"
    assert "Red now (first report)" in msg.get_body(("plain",)).get_content()
    assert "<table" in msg.get_body(("html",)).get_content()
    assert store.last_report("mon 08:00 -> pmo-mail").rag == {"jira:PAY-1": "red"}


def test_report_command_writes_a_file_and_sends_it(
    tmp_path: Path, smtp, monkeypatch, capsys
) -> None:
    mailbox, port, cert = smtp
    config = tmp_path / "pmo.yaml"
    config.write_text(
        f"database_url: sqlite:///{tmp_path / 'cli.db'}\n"
        "channels:\n"
        "  pmo-mail:\n"
        f"    {{kind: smtp, host: 127.0.0.1, port: {port}, user_env: U, password_env: P,\n"
        f"     to: [pmo@example.com], ca_file: {cert}}}\n"
    )
    monkeypatch.setenv("U", SMTP_USER)
    monkeypatch.setenv("P", SMTP_PASSWORD)
    out = tmp_path / "week.html"
    code = main(
        [
            "report",
            "--config",
            str(config),
            "--format",
            "html",
            "--out",
            str(out),
            "--send",
            "pmo-mail",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert f"report sent to {out.resolve()}" in printed
    assert "report sent to pmo-mail (e-mail to pmo@example.com" in printed
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert len(mailbox.messages) == 1


def test_report_command_refuses_bad_input_with_one_line(tmp_path: Path, capsys) -> None:
    config = tmp_path / "pmo.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'cli.db'}\n")
    assert main(["report", "--config", str(config), "--since", "forever"]) == 2
    assert "--since 'forever'" in capsys.readouterr().err
    assert main(["report", "--config", str(config), "--send", "nowhere"]) == 1
    assert "unknown channel 'nowhere' (configured: none)" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("channels: {x: {kind: smtp}}\nreports: [{every: 'mon 08:00', to: y}]\n")
    assert main(["report", "--config", str(bad)]) == 2
    assert "reports[0].to: unknown channel 'y' (configured: x)" in capsys.readouterr().err


def test_trend_lines_per_project_from_the_stored_history(store: Store) -> None:
    report = build_report(store, NOW)
    # PAY: one open from 10 days back, a second raised 3 days ago; WEB: fixed 2 days ago
    assert report.trends["PAY"] == (1, 1, 1, 1, 2, 2, 2, 2)
    assert report.trends["WEB"] == (1, 1, 1, 1, 1, 0, 0, 0)
    md = render_md(report)
    assert "| PAY | ▅▅▅▅████ | 1 | 2 |" in md
    assert "| WEB | █████▁▁▁ | 1 | 0 |" in md


def test_over_allocated_people_highest_peak_first_within_the_top() -> None:
    weeks = ["2026-11-30", "2026-12-07", "2026-12-14"]
    people = {
        "weeks": weeks,
        "people": [
            {"name": "Ana", "team": "web", "load": [0.5, 1.2, 0.9], "items": [1, 2]},
            {"name": "Ben", "team": None, "load": [1.5, None, 1.0], "items": [1]},
            {"name": "Cy", "team": "web", "load": [1.0, 0.4, None], "items": []},  # at capacity
            {"name": "Di", "team": "pay", "load": [None, None, None], "items": []},
        ],
    }
    found = over_allocated_people(people)
    assert [(p.name, p.this_week, p.peak, p.peak_week.isoformat()) for p in found] == [
        ("Ben", 1.5, 1.5, "2026-11-30"),
        ("Ana", 0.5, 1.2, "2026-12-07"),
    ]
    assert len(over_allocated_people(people, top=1)) == 1


def test_without_a_people_register_the_report_counts_work_in_progress(store: Store) -> None:
    report = build_report(store, NOW, people=lambda: None)
    assert report.over_allocated is None
    assert "## Most work in progress" in render_md(report)
    nobody = build_report(store, NOW, people=lambda: {"weeks": [], "people": []})
    assert "Nobody is over capacity in the weeks ahead." in render_md(nobody)
