"""Reading the people file (`config.people` says what it holds): strict, with
`FILE:LINE: reason` for every mistake, and bounded like every file a person writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml

from config.people import UNITS, Capacity, Directory, Member
from config.settings import ConfigError, Settings
from config.yamlsafe import SafeNoAliasLoader, TooLarge, read_yaml_text

MAX_PEOPLE = 100_000
_TOP_KEYS = {"units", "teams", "people", "iteration_capacity"}
_SOURCE_KEYS = {"tracker", "project", "team"}
_PERSON_KEYS = {"id", "name", "email", "team", "accounts", "capacity", "time_off"}
_TEAM_KEYS = {"capacity", "time_off"}


class PeopleError(ConfigError):
    """A people file that cannot be used; the message is `FILE:LINE: reason`."""


def people_path(config_source: str | None, named: str | None) -> Path | None:
    """Which people file applies: the one the config names, else `people.yaml` beside
    the config when it exists."""
    base = Path(config_source).resolve().parent if config_source else Path.cwd()
    if named:
        return Path(named) if Path(named).is_absolute() else base / named
    beside = base / "people.yaml"
    return beside if config_source and beside.exists() else None


def load_directory(path: Path | None) -> Directory:
    """The directory from a people file (an empty one when there is no file)."""
    if path is None:
        return Directory()
    try:
        text = read_yaml_text(path)
        loader = SafeNoAliasLoader(text)
        try:
            node = loader.get_single_node()
            raw = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except FileNotFoundError:
        raise PeopleError(f"{path}: people file not found") from None
    except (OSError, UnicodeDecodeError, TooLarge) as exc:
        raise PeopleError(f"{path}: cannot read people file: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise PeopleError(
            f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    return _Reader(str(path), node).directory(raw or {})


class _Reader:
    def __init__(self, file: str, root: yaml.Node | None) -> None:
        self.file, self.root = file, root

    def fail(self, where: tuple[Hashable, ...], reason: str) -> PeopleError:
        return PeopleError(f"{self.file}:{self._line(where)}: {reason}")

    def _line(self, where: tuple[Hashable, ...]) -> int:
        node, line = self.root, 1
        for step in where:
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if k.value == step), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                node = node.value[step] if step < len(node.value) else None
            else:
                node = None
            if node is None:
                break
            line = node.start_mark.line + 1
        return line

    def mapping(self, value: Any, where: tuple, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, "expected a mapping")
        for key in value:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail((*where, key), f"unknown key {key!r} (allowed: {known})")
        return value

    def text(self, value: Any, where: tuple, limit: int = 200) -> str:
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            raise self.fail(where, "expected a non-empty text")
        if len(str(value)) > limit:
            raise self.fail(where, f"longer than {limit} characters")
        return str(value).strip()

    def directory(self, raw: Any) -> Directory:
        top = self.mapping(raw, (), _TOP_KEYS)
        units = {}
        for tracker, unit in self.mapping(
            top.get("units") or {}, ("units",), set(top.get("units") or {})
        ).items():
            if unit not in UNITS:
                raise self.fail(("units", tracker), f"unit must be one of {', '.join(UNITS)}")
            units[str(tracker)] = unit
        teams = {
            str(name): self.team(spec, ("teams", name))
            for name, spec in self.mapping(
                top.get("teams") or {}, ("teams",), set(top.get("teams") or {})
            ).items()
        }
        people = top.get("people") or []
        if not isinstance(people, list):
            raise self.fail(("people",), "expected a list of people")
        if len(people) > MAX_PEOPLE:
            raise self.fail(("people",), f"more than {MAX_PEOPLE} people")
        members: list[Member] = []
        owner: dict[str, int] = {}
        for index, spec in enumerate(people):
            member = self.member(spec, ("people", index), teams)
            for account in (*member.accounts, member.email or ""):
                folded = account.casefold()
                if folded and owner.get(folded, index) != index:
                    raise self.fail(
                        ("people", index),
                        f"account {account!r} is already mapped to entry {owner[folded] + 1}",
                    )
                owner[folded] = index
            members.append(member)
        ids = [m.id for m in members]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise self.fail(("people", ids.index(dup, ids.index(dup) + 1)), f"id {dup!r} twice")
        return Directory.of(members, units, self.sources(top.get("iteration_capacity")))

    def sources(self, spec: Any) -> tuple[tuple[str, str, str], ...]:
        if spec is None:
            return ()
        if not isinstance(spec, list):
            raise self.fail(("iteration_capacity",), "expected a list of {tracker, project, team}")
        out = []
        for i, entry in enumerate(spec):
            where = ("iteration_capacity", i)
            source = self.mapping(entry, where, _SOURCE_KEYS)
            if set(source) != _SOURCE_KEYS:
                raise self.fail(where, "name the tracker, project and team")
            out.append(
                tuple(self.text(source[k], (*where, k)) for k in ("tracker", "project", "team"))
            )
        return tuple(out)  # type: ignore[return-value]

    def team(self, spec: Any, where: tuple) -> tuple[Capacity, tuple]:
        team = self.mapping(spec or {}, where, _TEAM_KEYS)
        capacity = self.capacity(team.get("capacity"), (*where, "capacity"))
        return capacity, self.time_off(team.get("time_off"), (*where, "time_off"))

    def member(self, spec: Any, where: tuple, teams: Mapping[str, tuple]) -> Member:
        person = self.mapping(spec, where, _PERSON_KEYS)
        if "id" not in person or "name" not in person:
            raise self.fail(where, "a person needs an id and a name")
        team = self.text(person["team"], (*where, "team")) if "team" in person else None
        if team is not None and team not in teams:
            raise self.fail((*where, "team"), f"team {team!r} is not under teams:")
        team_capacity, team_off = teams.get(team or "", (Capacity(), ()))
        accounts = person.get("accounts") or []
        if not isinstance(accounts, list):
            raise self.fail((*where, "accounts"), "expected a list of account ids/names")
        capacity = self.capacity(person.get("capacity"), (*where, "capacity"))
        return Member(
            id=self.text(person["id"], (*where, "id")),
            name=self.text(person["name"], (*where, "name")),
            email=self.text(person["email"], (*where, "email")) if "email" in person else None,
            team=team,
            accounts=tuple(self.text(a, (*where, "accounts", i)) for i, a in enumerate(accounts)),
            capacity=Capacity(  # each unit the person gives wins over the team's
                hours=capacity.hours if capacity.hours is not None else team_capacity.hours,
                points=capacity.points if capacity.points is not None else team_capacity.points,
            ),
            time_off=team_off + self.time_off(person.get("time_off"), (*where, "time_off")),
        )

    def capacity(self, spec: Any, where: tuple) -> Capacity:
        values = self.mapping(spec or {}, where, set(UNITS))
        out = {}
        for unit, value in values.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value <= 1000
            ):
                raise self.fail((*where, unit), f"{unit} per week: a number above 0, at most 1000")
            out[unit] = float(value)
        return Capacity(**out)

    def time_off(self, spec: Any, where: tuple) -> tuple[tuple[dt.date, dt.date], ...]:
        if spec is None:
            return ()
        if not isinstance(spec, list):
            raise self.fail(where, "expected a list of {from: DATE, to: DATE}")
        ranges = []
        for i, entry in enumerate(spec):
            span = self.mapping(entry, (*where, i), {"from", "to"})
            start, end = span.get("from"), span.get("to", span.get("from"))
            if not isinstance(start, dt.date) or not isinstance(end, dt.date):
                raise self.fail((*where, i), "from and to are dates, e.g. 2026-12-21")
            if end < start:
                raise self.fail((*where, i, "to"), "to is before from")
            ranges.append((start, end))
        return tuple(ranges)


def load_people(settings: Settings) -> Directory:
    """The directory the settings name; raises `PeopleError` (a `ConfigError`)."""
    return load_directory(people_path(settings.source, settings.people_file))
