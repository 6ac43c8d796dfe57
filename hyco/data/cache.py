"""The versioned on-disk data cache (format version 2).

Layout of one cache entry, ``<resolve_path(data.cache_dir)>/<key>/``::

    train_00000.npz ... val_00000.npz ... test_00000.npz   one file per simulation
    metadata.json                                          written last: its presence means complete

Each ``.npz`` holds, per dynamic field, ``truth_<field>`` / ``obs_<field>`` float32
``[T, C, *spatial]`` and ``mask_<field>`` uint8 ``[T, 1, *spatial]`` (each field has its own mask:
a model may be observed in some fields and not others); per static field (a known input such as
an advecting velocity) ``static_<field>`` float32 ``[C, *spatial]``; per physical parameter its
true value ``param_<name>`` float32 ``[1, *resolution]`` (the truth of what may be learned, kept
apart from known inputs); and ``seed`` (int64, 0-d). ``metadata.json`` records the format
version, the key, library versions, the resolved config, the splits with their IC seeds, the
field specs, the parameters, shapes and the SHA-256 of every file.

Version 2 (per-field masks, true parameters apart from static inputs, walled staggered layouts)
replaced version 1 (one ``mask``, ``static_<parameter>``); a version-1 entry is refused with the
regenerate hint.

Every file is written under a temporary name in the same directory and renamed into place when
complete, so a reader never sees half a file, and only files named in ``metadata.json`` are ever
read: a leftover temporary file from a killed writer is ignored. Two processes that want the same
key serialise on ``<cache_dir>/<key>.lock`` (see :func:`cache_lock`); an entry without
``metadata.json`` found under that lock was left by a writer that is gone, and is rebuilt
(:func:`hyco.data.generate.generate_dataset`). Loading never uses pickle.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Tuple

import numpy as np

from hyco.config.keys import DATA_KEY, select
from hyco.core.files import TEMP_PREFIX, VERIFIED, atomic_write_bytes, sha256_bytes
from hyco.core.locks import file_lock
from hyco.core.paths import resolve_path
from hyco.core.plain import to_plain
from hyco.errors import CacheError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2
METADATA_FILE = "metadata.json"
SPLITS = ("train", "val", "test")
REGENERATE_HINT = "rerun with data.regenerate=true or delete the directory {path}"



def _error(problem: str, path: Path | str) -> CacheError:
    return CacheError(f"{problem} — {REGENERATE_HINT.format(path=path)}")


# ---- key ---------------------------------------------------------------------------------------
def library_versions(full: bool = False) -> Dict[str, str]:
    """Versions of the libraries that produce the data (``full``: also those that only read it)."""
    import phi
    import phiml

    versions = {"phiflow": str(phi.__version__), "phiml": str(phiml.__version__)}
    if full:
        import platform

        import torch

        import hyco

        versions.update(
            python=platform.python_version(),
            torch=str(torch.__version__),
            numpy=str(np.__version__),
            hyco=str(hyco.__version__),
        )
    return versions


def key_payload(cfg: Any) -> Dict[str, Any]:
    """Everything that determines the data of ``cfg`` (a full HYCO config), as plain JSON: the
    keys whose declared effect is ``data`` (:mod:`hyco.config.keys`: the physics with its true
    parameters, not their initial guess or learnable flag; the initial conditions, counts, frames
    and seed of the data; the observation operator), the cache format version and the versions of
    PhiFlow and phiml."""
    plain = {group: to_plain(cfg[group] if isinstance(cfg, dict) else getattr(cfg, group))
             for group in ("physics", "data", "observation")}
    return {"format_version": FORMAT_VERSION, **select(plain, DATA_KEY), "versions": library_versions()}


def canonical_json(payload: Any) -> str:
    """Sorted keys, no whitespace: equal content gives equal text."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)


def cache_key(cfg: Any) -> str:
    """First 16 hex digits of the SHA-256 of :func:`key_payload`'s canonical JSON."""
    return hashlib.sha256(canonical_json(key_payload(cfg)).encode("utf-8")).hexdigest()[:16]


def cache_root(cfg: Any) -> Path:
    """The directory that holds all cache entries (``data.cache_dir`` from the project root)."""
    return resolve_path(cfg.data.cache_dir)


def sim_filename(split: str, index: int) -> str:
    """``{split}_{index:05d}.npz``."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}', expected one of {SPLITS}")
    return f"{split}_{int(index):05d}.npz"


# ---- atomic writes and the lock ----------------------------------------------------------------
@contextlib.contextmanager
def cache_lock(root: Path, key: str, shared: bool = False) -> Iterator[Path]:
    """Hold an ``flock`` on ``<root>/<key>.lock`` (blocking; logged when waiting).

    Exclusive for writing an entry; ``shared=True`` for reading one, so parallel readers (sweep
    workers) never wait for each other, only for a writer. Holding it exclusively proves that no
    other process is writing the entry: a partial entry found then was left by a writer that is
    gone. The lock file is removed when its last holder releases it (:mod:`hyco.core.locks`).
    """
    lock_path = Path(root) / f"{key}.lock"
    with file_lock(lock_path, shared=shared,
                   on_wait=lambda: logger.info("waiting for another process using cache %s (lock %s)", key,
                                               lock_path)):
        yield lock_path


def remove_entry(path: Path, quiet: bool = False) -> None:
    """Delete a cache entry directory (caller holds the lock)."""
    path = Path(path)
    if path.exists():
        if not quiet:
            logger.info("removing cache entry %s", path)
        shutil.rmtree(path)


class CacheWriter:
    """Writes one cache entry: simulation files one by one, then ``metadata.json``.

    Parameters
    ----------
    path
        The entry directory ``<cache_dir>/<key>``; created if missing. The caller holds the lock
        and has removed any previous content.
    key
        The cache key, recorded in the metadata.
    """

    def __init__(self, path: Path, key: str) -> None:
        self.path = Path(path)
        self.key = key
        self.files: Dict[str, str] = {}
        self.path.mkdir(parents=True, exist_ok=True)

    def write_sim(self, split: str, index: int, arrays: Mapping[str, np.ndarray]) -> str:
        """Write one simulation's arrays atomically; returns the file name."""
        name = sim_filename(split, index)
        buffer = io.BytesIO()
        np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
        data = buffer.getvalue()
        atomic_write_bytes(self.path / name, data)
        self.files[name] = sha256_bytes(data)
        return name

    def finalize(self, metadata: Mapping[str, Any]) -> Path:
        """Write ``metadata.json`` last (atomically); the entry is complete afterwards."""
        meta = dict(metadata)
        meta["format_version"] = FORMAT_VERSION
        meta["key"] = self.key
        meta["files"] = dict(sorted(self.files.items()))
        text = json.dumps(meta, indent=2, sort_keys=True, allow_nan=False)
        atomic_write_bytes(self.path / METADATA_FILE, text.encode("utf-8"))
        return self.path / METADATA_FILE


# ---- reading -----------------------------------------------------------------------------------
class CacheReader:
    """Read access to a complete cache entry; picklable (holds only the path and metadata).

    Parameters
    ----------
    path
        The entry directory ``<cache_dir>/<key>``.

    Raises
    ------
    CacheError
        On a missing directory, missing ``metadata.json`` (incomplete generation), unreadable
        metadata, another format version, or a listed file that is missing. Checksums are
        checked per file on its first :meth:`load` in a process, or all at once by :meth:`verify`.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise _error(f"cache directory {self.path} does not exist", self.path)
        meta_path = self.path / METADATA_FILE
        if not meta_path.is_file():
            raise _error(
                f"cache {self.path} has no {METADATA_FILE}: its generation did not complete", self.path
            )
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _error(f"cache {self.path}: {METADATA_FILE} is unreadable ({exc})", self.path) from exc
        if not isinstance(meta, dict):
            raise _error(f"cache {self.path}: {METADATA_FILE} is not a JSON object", self.path)
        version = meta.get("format_version")
        if version != FORMAT_VERSION:
            raise _error(
                f"cache {self.path} has format version {version!r}, this code reads version {FORMAT_VERSION}",
                self.path,
            )
        missing_keys = [k for k in ("key", "splits", "num_frames", "spatial_shape", "files") if k not in meta]
        if missing_keys:
            raise _error(f"cache {self.path}: {METADATA_FILE} lacks {missing_keys}", self.path)
        self.metadata: Dict[str, Any] = meta
        files = meta["files"]
        for split in SPLITS:
            for index in range(self.num_sims(split)):
                name = sim_filename(split, index)
                if name not in files:
                    raise _error(f"cache {self.path}: {METADATA_FILE} does not list {name}", self.path)
        absent = sorted(name for name in files if not (self.path / name).is_file())
        if absent:
            raise _error(f"cache {self.path} is missing file(s) {absent[:5]}", self.path)

    # -- metadata views ---------------------------------------------------------------------------
    @property
    def key(self) -> str:
        return str(self.metadata["key"])

    @property
    def num_frames(self) -> int:
        return int(self.metadata["num_frames"])

    @property
    def spatial_shape(self) -> Tuple[int, ...]:
        return tuple(int(n) for n in self.metadata["spatial_shape"])

    @property
    def fields(self) -> Dict[str, Dict[str, Any]]:
        """Field specs as recorded: ``{name: {kind, channels, grid, boundary, role, shape}}``, in
        the model's state order. The metadata JSON is written with sorted keys, so the order is
        recorded separately (``field_order``); entries without it (all of whose models had
        fields in alphabetical order) keep the dict's order."""
        fields = dict(self.metadata.get("fields", {}))
        order = [n for n in self.metadata.get("field_order", []) if n in fields]
        return {n: fields[n] for n in order + [n for n in fields if n not in order]}

    @property
    def field_names(self) -> List[str]:
        return list(self.fields)

    @property
    def dynamic_fields(self) -> List[str]:
        return [n for n, f in self.fields.items() if f.get("role", "dynamic") == "dynamic"]

    @property
    def static_fields(self) -> List[str]:
        """Known static input fields (``static_<name>`` arrays)."""
        return [n for n, f in self.fields.items() if f.get("role") == "static"]

    @property
    def params(self) -> Dict[str, Dict[str, Any]]:
        """Parameters as recorded: ``{name: {kind, learnable}}`` (true values: ``param_<name>``)."""
        return dict(self.metadata.get("params", {}))

    def num_sims(self, split: str) -> int:
        """Number of simulations in ``split`` (0 for a split that was not generated)."""
        if split not in SPLITS:
            raise ValueError(f"unknown split '{split}', expected one of {SPLITS}")
        return int(self.metadata["splits"].get(split, {}).get("count", 0))

    def seeds(self, split: str) -> List[int]:
        """The IC seeds of ``split``, in index order."""
        return [int(s) for s in self.metadata["splits"].get(split, {}).get("seeds", [])]

    # -- data ---------------------------------------------------------------------------------
    def _file(self, split: str, index: int) -> Tuple[Path, str]:
        n = self.num_sims(split)
        if not 0 <= index < n:
            raise IndexError(f"{split} index {index} out of range [0, {n})")
        name = sim_filename(split, index)
        return self.path / name, self.metadata["files"][name]

    def _check(self, file: Path, expected: str) -> bytes:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise _error(f"cache file {file} cannot be read ({exc})", self.path) from exc
        actual = sha256_bytes(data)
        if actual != expected:
            raise _error(
                f"integrity check failed for {file}: SHA-256 {actual[:12]}… does not match "
                f"the metadata's {expected[:12]}… (corrupt or modified file)",
                self.path,
            )
        return data

    def load(self, split: str, index: int) -> Dict[str, np.ndarray]:
        """All arrays of one simulation; the file's SHA-256 is checked on its first load here."""
        file, sha = self._file(split, index)
        stamp = VERIFIED.stamp(file, sha)
        if stamp is None:
            raise _error(f"cache file {file} is missing", self.path)
        if stamp in VERIFIED:
            source: Any = file
        else:
            source = io.BytesIO(self._check(file, sha))
        try:
            with np.load(source, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except Exception as exc:  # zip / format errors of a file whose checksum matched the metadata
            raise _error(f"cache file {file} cannot be decoded ({exc})", self.path) from exc
        VERIFIED.add(stamp)
        for required in ["seed", *(f"mask_{n}" for n in self.dynamic_fields)]:
            if required not in arrays:
                raise _error(f"cache file {file} lacks the array '{required}'", self.path)
        return arrays

    def verify(self, again: bool = False) -> None:
        """Check every listed file's SHA-256 (``again=False``: skip files this process already
        checked and that kept their size and modification time since)."""
        for name, sha in self.metadata["files"].items():
            file = self.path / name
            stamp = VERIFIED.stamp(file, sha)
            if stamp is None:
                raise _error(f"cache file {file} is missing", self.path)
            if again or stamp not in VERIFIED:
                self._check(file, sha)
                VERIFIED.add(stamp)

    def __repr__(self) -> str:
        counts = {s: self.num_sims(s) for s in SPLITS}
        return f"CacheReader({str(self.path)!r}, {counts}, frames={self.num_frames})"


def temp_files(path: Path) -> List[Path]:
    """Leftover temporary files of killed writers in an entry (never read as data)."""
    return sorted(p for p in Path(path).glob(f"{TEMP_PREFIX}*") if p.is_file())

