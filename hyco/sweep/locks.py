"""Locks that every process of a study, on every host, can take: in the database itself.

PostgreSQL: a session advisory lock (``pg_advisory_lock``) on a dedicated connection; MySQL:
``GET_LOCK``. If the holder dies (``kill -9``, a lost host), its connection closes and the server
releases the lock, so a crash never leaves the study locked. SQLite lives on one machine: a file
lock beside the database does the same job there (:mod:`hyco.core.locks`: an ``flock`` the kernel
releases with its holder, on a file removed when the last holder lets go).
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from hyco.core.locks import file_lock


def lock_key(name: str) -> int:
    """A signed 64-bit key for ``name`` (PostgreSQL advisory locks are keyed by bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def database_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock ``name`` in ``engine``'s database (blocking until it is free)."""
    dialect = engine.dialect.name
    if dialect == "sqlite":
        database = Path(engine.url.database or "hyco.db")
        with file_lock(database.with_name(f"{database.name}.{lock_key(name) & 0xFFFFFF:06x}.lock")):
            yield  # the lock file goes with its last holder (hyco.core.locks)
        return
    if dialect == "postgresql":
        acquire, release, key = "SELECT pg_advisory_lock(:k)", "SELECT pg_advisory_unlock(:k)", lock_key(name)
    elif dialect in ("mysql", "mariadb"):
        acquire, release, key = "SELECT GET_LOCK(:k, -1)", "SELECT RELEASE_LOCK(:k)", f"hyco-{lock_key(name):x}"[:64]
    else:
        raise ValueError(f"sweep.storage: no lock across hosts for '{dialect}'; use PostgreSQL, MySQL or SQLite")
    with engine.connect() as conn:
        conn.execute(text(acquire), {"k": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text(release), {"k": key})
            conn.commit()


@contextmanager
def url_lock(url: str, name: str) -> Iterator[None]:
    """:func:`database_lock` on a URL, before any storage object exists (schema creation)."""
    engine = create_engine(url)
    try:
        with database_lock(engine, name):
            yield
    finally:
        engine.dispose()
