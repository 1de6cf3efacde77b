"""Suite-wide fixtures: real PostgreSQL and Redis on 127.0.0.1 when reachable (see
`tests.support.services`), both trackers mocked, a headless browser. Helpers that tests
import live in `tests.support`; no test module imports another."""

from __future__ import annotations

import uuid

import pytest
import responses

from tests.support.browser import chromium_page  # noqa: F401 (a fixture for tests/*/)
from tests.support.portfolio_gen import TRACKER_ENV, fresh_ado_location_cache
from tests.support.services import POSTGRES_URL, REDIS_URL, require_service


@pytest.fixture
def postgres_url() -> str:
    """A fresh schema-free database URL on the real PostgreSQL: each test gets its own
    database so tests never see each other's rows."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"pmo_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    """The real Redis, database 15, flushed before and after the test."""
    require_service("Redis", "127.0.0.1", 6379)
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def mocked(monkeypatch):
    """Both trackers' HTTP mocked, their credentials in the environment (the portfolio
    tests' `FakeTrackers` installs the answers)."""
    for name, value in TRACKER_ENV.items():
        monkeypatch.setenv(name, value)
    fresh_ado_location_cache(monkeypatch)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
