"""Fixtures the worker tests share."""

from __future__ import annotations

import pytest


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres+redis", marks=[pytest.mark.postgres, pytest.mark.redis]),
    ]
)
def engines(request: pytest.FixtureRequest) -> dict[str, str]:
    """The embedded engines (SQLite store, SqliteHuey) or the scale-out ones."""
    if request.param == "sqlite":
        return {}
    return {
        "database_url": request.getfixturevalue("postgres_url"),
        "redis_url": request.getfixturevalue("redis_url"),
    }
