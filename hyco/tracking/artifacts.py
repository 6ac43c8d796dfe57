"""Where a run's artifacts are on this machine: the store itself when it is a local directory,
otherwise a download folder, or the local mirror of a run this process writes (remote stores:
checkpoints are written there and uploaded, and read back without a download)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Optional, Tuple
from urllib.parse import unquote, urlparse

from hyco.core.paths import mlruns_dir
from hyco.tracking.backend import Tracking, get_client

if TYPE_CHECKING:  # pragma: no cover
    from mlflow.tracking import MlflowClient

__all__ = ["artifact_dir", "artifacts_are_local", "download_artifact", "local_artifact_path", "writable_artifact_dir"]

log = logging.getLogger(__name__)

_ARTIFACT_URIS: Dict[Tuple[str, str], str] = {}


def _local_artifacts(client: "MlflowClient", run_id: str) -> Optional[Path]:
    # A run's artifact URI never changes: look it up once per process (it costs a query).
    key = (str(client.tracking_uri), run_id)
    if key not in _ARTIFACT_URIS:
        _ARTIFACT_URIS[key] = client.get_run(run_id).info.artifact_uri
    uri = _ARTIFACT_URIS[key]
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(uri) if parsed.scheme == "" else None


def artifacts_are_local(run_id: str, tracking: Tracking = None) -> bool:
    """True if the run's artifact store is a directory of this machine (no upload needed)."""
    return _local_artifacts(get_client(tracking), run_id) is not None


# (tracking URI, run id) -> the local folder this process writes the run's artifacts to before
# uploading them (remote stores only): its files are the newest version, so reads of that run
# from this process need no download.
_MIRRORS: Dict[Tuple[str, str], Path] = {}


def _download_dir(run_id: str) -> Path:
    return mlruns_dir() / "downloads" / run_id


def writable_artifact_dir(run_id: str, tracking: Tracking = None, resume: bool = False) -> Path:
    """The folder this process writes a run's artifacts (checkpoints, logs) to.

    A local store: the run's artifact directory itself. A remote store (tracking server): a local
    mirror under ``mlruns/downloads/<run id>``, filled from the store first when ``resume`` (another
    host may have written the run), uploaded by the caller; later reads of the run from this
    process (:func:`download_artifact`) use the mirror instead of downloading.
    """
    client = get_client(tracking)
    local = _local_artifacts(client, run_id)
    if local is not None:
        return local
    dst = _download_dir(run_id)
    dst.mkdir(parents=True, exist_ok=True)
    if resume:
        client.download_artifacts(run_id, "", str(dst))
    _MIRRORS[(str(client.tracking_uri), run_id)] = dst
    return dst


def local_artifact_path(run_id: str, artifact_path: str, tracking: Tracking = None) -> Path:
    """Where to write an artifact of the run locally: inside the store when it is a local
    directory (nothing to upload), else in the run's download folder (then log it)."""
    client = get_client(tracking)
    local = _local_artifacts(client, run_id)
    base = local if local is not None else _MIRRORS.get((str(client.tracking_uri), run_id), _download_dir(run_id))
    return base / artifact_path


def artifact_dir(run_id: str, tracking: Tracking = None) -> Path:
    """Local directory of the run's artifacts (remote stores: downloaded to ``mlruns/downloads``)."""
    return download_artifact(run_id, "", tracking)


def download_artifact(run_id: str, artifact_path: str, tracking: Tracking = None) -> Path:
    """Local path of one artifact (file or folder, ``""`` for all); no copy for a local store, nor
    for a run this process writes (its mirror holds the newest files). A path the remote store
    does not hold comes back as a local path that does not exist."""
    client = get_client(tracking)
    local = _local_artifacts(client, run_id)
    if local is not None:
        return local / artifact_path if artifact_path else local
    mirror = _MIRRORS.get((str(client.tracking_uri), run_id))
    if mirror is not None and artifact_path and (mirror / artifact_path).exists():
        return mirror / artifact_path
    dst = _download_dir(run_id)
    dst.mkdir(parents=True, exist_ok=True)
    from mlflow.exceptions import MlflowException

    try:
        return Path(client.download_artifacts(run_id, artifact_path, str(dst)))
    except (MlflowException, OSError) as exc:
        if not artifact_path:
            raise
        log.debug("run %s has no artifact %s: %s", run_id, artifact_path, exc)
        return dst / artifact_path
