"""Helpers of the fault suite: the entry points called in-process, what they print, a closed port,
a damaged file."""

from __future__ import annotations

import importlib.util
import socket
import struct
import zipfile
from pathlib import Path
from types import ModuleType
from typing import List, Tuple

from hyco.core.paths import project_root

EXPERIMENTS = project_root() / "experiments"


def entry_point(name: str) -> ModuleType:
    """``experiments/<name>.py`` as a module (its ``main(argv)`` is the command)."""
    spec = importlib.util.spec_from_file_location(f"hyco_entry_{name}", EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def error_lines(stderr: str) -> List[str]:
    """What a person reads on stderr besides log lines (``[time][logger][LEVEL] ...``)."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("[")]


def one_line(stderr: str) -> str:
    """The single line of a refusal; fails if there is a traceback or more than one line."""
    assert "Traceback" not in stderr, stderr
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr
    return lines[0]


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flip_bytes(file: Path, count: int = 4, offset: int | None = None) -> Tuple[int, int]:
    """Flip ``count`` bytes in the middle of ``file`` (where a large file keeps its tensors)."""
    data = bytearray(file.read_bytes())
    start = len(data) // 2 if offset is None else offset
    for i in range(start, start + count):
        data[i] ^= 0x5A
    file.write_bytes(bytes(data))
    return start, count


def flip_weight_bytes(checkpoint: Path, count: int = 4) -> str:
    """Flip ``count`` bytes inside the largest tensor record of a ``torch.save`` file (a weight,
    not the zip's bookkeeping: torch does not check the records' CRC); returns the record name."""
    with zipfile.ZipFile(checkpoint) as archive:
        record = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    data = bytearray(checkpoint.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[record.header_offset + 26:record.header_offset + 30])
    start = record.header_offset + 30 + name_len + extra_len + record.file_size // 2
    for i in range(start, start + count):
        data[i] ^= 0x01
    checkpoint.write_bytes(bytes(data))
    return record.filename


def tree(folder: Path) -> List[str]:
    """Every path under ``folder`` (relative), to show that nothing was created."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*")) if Path(folder).exists() else []
