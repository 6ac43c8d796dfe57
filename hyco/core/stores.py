"""Probing a store before anything is written to it: the MLflow tracking URI, the Optuna storage.

A command that creates a study, a parent run or a child run and only then finds its store
unreachable leaves half a state behind (a study without its parent run, a run without its
trials) and, with MLflow's HTTP retries, waits minutes to say so. :func:`probe_url` answers in
at most a few seconds, before anything is created, with one :class:`~hyco.errors.StoreError`
naming the store:

* ``sqlite:///<file>``: the file, if it exists, must be a writable SQLite database, and its
  folder writable (SQLite writes its journal beside it); a missing file's nearest existing
  folder must be writable (it will be created there);
* ``postgresql://``, ``mysql://`` (any SQLAlchemy URL): one connection with a short connect timeout;
* ``http(s)://`` (an MLflow tracking server): one request to its ``/health`` endpoint; any HTTP
  answer means it is there.

Other schemes (``file:``, ``databricks``) are left to their own clients. Passwords never appear
in a message.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from hyco.errors import StoreError

PROBE_TIMEOUT_S = 5.0


def redact(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def sqlite_file(url: str) -> Optional[Path]:
    """The database file of a ``sqlite:///`` URL (None for other URLs and in-memory databases)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def _writable_dir(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried, then removed: root ignores mode bits)."""
    try:
        handle, name = tempfile.mkstemp(prefix=".hyco-probe-", dir=folder)
    except OSError:
        return False
    os.close(handle)
    os.unlink(name)
    return True


def _nearest_existing(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path("/")


def _probe_sqlite(path: Path, what: str) -> None:
    if path.exists():
        if not path.is_file():
            raise StoreError(f"{what}: {path} is not a file")
        try:
            with open(path, "r+b"):
                pass
        except OSError as err:
            raise StoreError(f"{what}: the database file {path} is read-only ({err.strerror}); make it writable "
                             "(chmod u+w) or point the setting at another file") from None
        if not _writable_dir(path.parent):
            raise StoreError(f"{what}: the folder {path.parent} of the database {path} is read-only (SQLite writes "
                             "its journal there); make it writable or move the database") from None
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=PROBE_TIMEOUT_S)
            try:
                con.execute("PRAGMA schema_version").fetchone()
            finally:
                con.close()
        except sqlite3.DatabaseError as err:
            if "locked" in str(err):
                return  # another process is writing: it is a database, and it is in use
            raise StoreError(f"{what}: {path} is not a usable SQLite database ({err}); move it aside and "
                             "rerun to start a new one") from None
        return
    folder = _nearest_existing(path.parent)
    if not folder.is_dir() or not _writable_dir(folder):
        raise StoreError(f"{what}: cannot create the database {path}: {folder} is not a writable folder")


def _probe_sql(url: str, what: str, timeout: float) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    dialect = urlsplit(url).scheme.split("+")[0]
    connect_args = {"connect_timeout": max(1, int(timeout))} if dialect in ("postgresql", "mysql", "mariadb") else {}
    try:
        engine = create_engine(url, connect_args=connect_args, pool_pre_ping=False)
    except (ArgumentError, NoSuchModuleError, ImportError) as err:
        raise StoreError(f"{what}: {redact(url)} is not a database URL this installation can open ({err}); "
                         "for PostgreSQL install the extra: pip install -e '.[postgres]'") from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as err:
        detail = " ".join(str(getattr(err, "orig", err)).split())[:300]
        raise StoreError(f"{what}: cannot connect to {redact(url)} within {timeout:g} s ({detail}); start the "
                         "database server or fix the URL") from None
    finally:
        engine.dispose()


def _probe_http(url: str, what: str, timeout: float) -> None:
    request = urllib.request.Request(url.rstrip("/") + "/health", method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # it answered: the server is there (what it thinks of /health is its business)
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise StoreError(f"{what}: the server {redact(url)} cannot be reached within {timeout:g} s ({reason}); "
                         "start it (mlflow server ...) or fix the URL") from None


def probe_url(url: str, what: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise :class:`~hyco.errors.StoreError` naming ``what`` and the store if ``url`` cannot be
    written to (module docstring); return at once for schemes it does not know."""
    path = sqlite_file(url)
    if path is not None:
        _probe_sqlite(path, what)
        return
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        _probe_http(url, what, timeout)
    elif scheme.split("+")[0] in ("postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle"):
        _probe_sql(url, what, timeout)


def probe_folder(path: Path, what: str) -> None:
    """A folder the platform will write into (created if missing) must be writable."""
    folder = _nearest_existing(Path(path))
    if not folder.is_dir() or not _writable_dir(folder):
        raise StoreError(f"{what}: {path} cannot be written ({folder} is not a writable folder)")
