"""The on-disk cache: key, hit without recomputation, integrity, versions, temp files, locking."""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from hyco.data import generate as gen
from hyco.data.cache import FORMAT_VERSION, METADATA_FILE, CacheReader, cache_key, key_payload, temp_files
from hyco.data.generate import generate_dataset
from hyco.errors import CacheError


def snapshot(path: Path) -> dict:
    """name -> (size, mtime_ns) of every file in an entry."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(path.iterdir())}


def flip_byte(file: Path, offset: int | None = None) -> None:
    data = bytearray(file.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    file.write_bytes(bytes(data))


# --------------------------------------------------------------------------------------- key
def test_key_is_sixteen_hex_and_ignores_what_does_not_determine_data(data_cfg):
    base = cache_key(data_cfg())
    assert len(base) == 16 and int(base, 16) >= 0
    same = [
        "trainer.lr=0.5",
        "trainer=physical_only",
        "tracking.enabled=false",
        "data.generation_batch=1",
        "data.regenerate=true",
        "data.max_cached_sims=2",
        "physics.params.nu.initial_guess=0.07",
        "physics.params.nu.smoothness=0.1",
        "experiment_name=other",
        "seed=5",
    ]
    for override in same:
        assert cache_key(data_cfg(override)) == base, override
    different = [
        "physics.params.nu.true_value=0.02",
        "physics.dt=0.004",
        "physics.resolution=[32]",
        "data.num_frames=6",
        "data.num_train=3",
        "data.seed=1",
        "data.ic.amplitude=0.5",
        "data.ic.centre_upper=[0.9, 0.5]",
        "observation.noise=0.1",
        "observation.seed=9",
    ]
    keys = {cache_key(data_cfg(o)) for o in different}
    assert base not in keys and len(keys) == len(different)


def test_key_payload_is_canonical_and_names_versions(data_cfg):
    payload = key_payload(data_cfg())
    assert payload["format_version"] == FORMAT_VERSION
    assert set(payload["versions"]) == {"phiflow", "phiml"}
    assert "trainer" not in payload and "tracking" not in payload
    assert payload["physics"]["params"]["nu"]["true_value"] == pytest.approx(0.01)
    assert "initial_guess" not in payload["physics"]["params"]["nu"]
    # a plain-dict config (enums as strings) gives the same key as the typed one
    cfg = data_cfg()
    plain = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
    assert cache_key(plain) == cache_key(cfg)


# --------------------------------------------------------------------------------- hit / miss
def test_second_call_is_a_hit_without_simulation_or_writes(data_cfg, monkeypatch, caplog):
    cfg = data_cfg()
    first = generate_dataset(cfg, progress=False)
    assert not first.hit and first.path.is_dir() and first.key == cache_key(cfg)
    before = snapshot(first.path)

    def no_simulation(_cfg):
        raise AssertionError("a cache hit must not build or run the physics model")

    monkeypatch.setattr(gen, "_build_model", no_simulation)
    with caplog.at_level(logging.DEBUG, logger="hyco.data.generate"):  # a hit is detail (twice per sweep trial)
        second = generate_dataset(cfg, progress=False)
    assert second.hit and second.path == first.path and second.key == first.key
    assert snapshot(second.path) == before
    assert f"cache hit: {first.path}" in caplog.text


def test_changed_truth_is_a_miss_in_a_new_directory(data_cfg):
    a = generate_dataset(data_cfg(), progress=False)
    b = generate_dataset(data_cfg("physics.params.nu.true_value=0.02"), progress=False)
    assert not b.hit and b.key != a.key and b.path != a.path
    assert CacheReader(b.path).metadata["config"]["physics"]["params"]["nu"]["true_value"] == pytest.approx(0.02)
    CacheReader(a.path).verify()  # the first entry is untouched


def test_no_temporary_files_remain_after_generation(data_cfg):
    result = generate_dataset(data_cfg(), progress=False)
    assert temp_files(result.path) == []
    meta = CacheReader(result.path).metadata
    names = {p.name for p in result.path.iterdir()}
    assert names == set(meta["files"]) | {METADATA_FILE}


# ----------------------------------------------------------------------------------- refusals
def test_flipped_byte_is_an_integrity_error(data_cfg):
    cfg = data_cfg()
    result = generate_dataset(cfg, progress=False)
    reader = CacheReader(result.path)
    reader.load("train", 1)  # verified once in this process ...
    flip_byte(result.path / "train_00001.npz")
    with pytest.raises(CacheError) as err:  # ... but a changed file is checked again
        reader.load("train", 1)
    assert "integrity" in str(err.value) and "data.regenerate=true" in str(err.value)
    with pytest.raises(CacheError, match=r"integrity.*data\.regenerate=true"):
        generate_dataset(cfg, progress=False)
    with pytest.raises(CacheError, match="integrity"):
        CacheReader(result.path).verify()


@pytest.mark.parametrize("version", [1, FORMAT_VERSION + 1])  # 1: the one-mask layout before field specs
def test_other_format_version_is_refused(data_cfg, version):
    assert FORMAT_VERSION == 2
    cfg = data_cfg()
    result = generate_dataset(cfg, progress=False)
    meta_file = result.path / METADATA_FILE
    meta = json.loads(meta_file.read_text())
    meta["format_version"] = version
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(CacheError, match=r"format version.*data\.regenerate=true"):
        CacheReader(result.path)
    with pytest.raises(CacheError, match="delete the directory"):
        generate_dataset(cfg, progress=False)


def test_missing_file_is_refused(data_cfg):
    cfg = data_cfg()
    result = generate_dataset(cfg, progress=False)
    (result.path / "val_00000.npz").unlink()
    with pytest.raises(CacheError, match=r"missing.*val_00000\.npz.*data\.regenerate=true"):
        CacheReader(result.path)
    with pytest.raises(CacheError, match="missing"):
        generate_dataset(cfg, progress=False)


def test_directory_without_metadata_is_rebuilt_once_its_writer_is_gone(data_cfg, caplog):
    cfg = data_cfg()
    result = generate_dataset(cfg, progress=False)
    good = CacheReader(result.path).load("train", 0)["truth_velocity"]
    (result.path / METADATA_FILE).unlink()  # as if the writer died before finishing
    with pytest.raises(CacheError, match=r"did not complete.*data\.regenerate=true"):
        CacheReader(result.path)  # a reader never reads it ...
    with caplog.at_level("WARNING", logger="hyco.data.generate"):
        rebuilt = generate_dataset(cfg, progress=False)  # ... the next generation, holding the lock, rebuilds it
    assert not rebuilt.hit and rebuilt.path == result.path
    assert [r.getMessage() for r in caplog.records if "incomplete" in r.getMessage()] == [
        f"cache entry {result.path} is incomplete (its writer stopped before finishing); rebuilding it"]
    np.testing.assert_array_equal(CacheReader(rebuilt.path).load("train", 0)["truth_velocity"], good)
    assert not list(result.path.parent.glob("*.lock"))  # the lock file went with its last holder


def test_leftover_temporary_files_are_never_read(data_cfg):
    cfg = data_cfg()
    result = generate_dataset(cfg, progress=False)
    good = CacheReader(result.path).load("train", 0)
    # a killed writer's debris, named like the data it was writing
    (result.path / f".tmp-{os.getpid()}-deadbeef-train_00000.npz").write_bytes(b"garbage")
    (result.path / f".tmp-{os.getpid()}-deadbeef-{METADATA_FILE}").write_text('{"format_version": 99}')
    again = generate_dataset(cfg, progress=False)
    assert again.hit
    reader = CacheReader(result.path)
    reader.verify()
    loaded = reader.load("train", 0)
    for name, array in good.items():
        np.testing.assert_array_equal(loaded[name], array)
    assert len(temp_files(result.path)) == 2


def test_regenerate_rebuilds_a_corrupt_entry(data_cfg):
    result = generate_dataset(data_cfg(), progress=False)
    good = CacheReader(result.path).load("test", 0)["truth_velocity"]
    flip_byte(result.path / "test_00000.npz")
    (result.path / ".tmp-1-cafe-test_00000.npz").write_bytes(b"debris")
    rebuilt = generate_dataset(data_cfg("data.regenerate=true"), progress=False)
    assert not rebuilt.hit and rebuilt.path == result.path
    assert temp_files(rebuilt.path) == []
    reader = CacheReader(rebuilt.path)
    reader.verify()
    np.testing.assert_array_equal(reader.load("test", 0)["truth_velocity"], good)
    assert generate_dataset(data_cfg(), progress=False).hit


# ------------------------------------------------------------------------------------- reader
def test_reader_is_picklable_and_small(data_cfg):
    result = generate_dataset(data_cfg(), progress=False)
    reader = CacheReader(result.path)
    blob = pickle.dumps(reader)
    assert len(blob) < 20_000
    clone = pickle.loads(blob)
    assert clone.num_sims("train") == 2 and clone.num_sims("val") == 1 and clone.num_sims("test") == 1
    np.testing.assert_array_equal(clone.load("val", 0)["obs_velocity"], reader.load("val", 0)["obs_velocity"])
    with pytest.raises(IndexError):
        reader.load("train", 2)


# -------------------------------------------------------------------------------- concurrency
@pytest.mark.slow
def test_two_processes_generating_the_same_key_end_with_one_valid_cache(data_cfg):
    from gen_worker import generate_in_child

    cfg = data_cfg()
    plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [ctx.Process(target=generate_in_child, args=(plain, barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert all(o[0] == "ok" for o in outcomes), outcomes
    assert sorted(o[1] for o in outcomes) == [False, True]  # one generated, the other waited and hit
    assert len({o[2] for o in outcomes}) == 1 and len({o[3] for o in outcomes}) == 1
    path = Path(outcomes[0][3])
    entries = [p for p in path.parent.iterdir() if p.is_dir()]
    assert entries == [path]
    reader = CacheReader(path)
    reader.verify()
    assert temp_files(path) == []
    assert generate_dataset(cfg, progress=False).hit
