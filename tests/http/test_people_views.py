"""The people views' cut of the cached report: team filter and weeks."""

from __future__ import annotations

from webhooks.http.people import cut, heat, to_csv

REPORT = {
    "weeks": ["2026-12-07", "2026-12-14", "2026-12-21"],
    "teams": ["mobile", "web"],
    "people": [
        {"id": "dana", "name": "Dana", "team": "mobile", "mapped": True, "capacity": {},
         "load": [1.3, 0.0, 0.0],
         "items": [{"key": "jira:A-1", "unit": "points",
                    "weeks": {"2026-12-07": 8.0, "2026-12-21": 1.0}}]},
        {"id": "eli", "name": "=Eli", "team": "web", "mapped": True, "capacity": {},
         "load": [None, 0.2, 0.2], "items": []},
    ],
    "under_allocated": [
        {"person": "dana", "weeks": ["2026-12-14", "2026-12-21"]},
        {"person": "eli", "weeks": ["2026-12-14", "2026-12-21"]},
    ],
}  # fmt: skip


def test_cut_filters_by_team_and_weeks():
    mobile = cut(REPORT, "mobile", 2)
    assert [p["id"] for p in mobile["people"]] == ["dana"]
    assert mobile["people"][0]["load"] == [1.3, 0.0]
    assert mobile["people"][0]["items"][0]["weeks"] == {"2026-12-07": 8.0}
    assert mobile["under_allocated"] == []  # its run ends past the weeks shown
    everyone = cut(REPORT, None, 3)
    assert [u["person"] for u in everyone["under_allocated"]] == ["dana", "eli"]


def test_csv_keeps_names_from_running_as_formulas_and_blank_without_capacity():
    rows = to_csv(cut(REPORT, None, 3)).splitlines()
    assert rows[0] == "person,name,team,2026-12-07,2026-12-14,2026-12-21"
    assert rows[2] == "eli,'=Eli,web,,20,20"
    assert [heat(f) for f in (None, 0.2, 0.8, 1.05, 1.3)] == ["none", "low", "ok", "high", "over"]
