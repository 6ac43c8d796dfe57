"""The README is short and every command in it still runs: each ``make`` target exists (a dry run)
and every Hydra override in it composes and passes validation (``ARGS`` of ``make``, and the
command lines of ``run.py``, ``sweep.py`` and ``compare.py``), without compute. The docs build
(``make docs``, strict) checks the links."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from hyco.compose import compose_config
from hyco.core.paths import project_root

ROOT = project_root()
README = ROOT / "README.md"
SCRIPTS = {"experiments/run.py", "experiments/sweep.py", "experiments/compare.py", "experiments/reproduce.py"}


def commands() -> list:
    """Each shell command of the README's ``bash`` blocks, comments removed."""
    blocks = re.findall(r"^```bash\n(.*?)```", README.read_text(), re.M | re.S)
    lines = [line.split("  #", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def overrides_of(words: list) -> list:
    """The Hydra overrides among a script's arguments (flags and their values left out)."""
    out, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word.startswith("--"):
            skip = "=" not in word and word not in ("--verbose",)
        elif word != "-v":
            out.append(word)
    return out


def test_the_readme_is_short_and_names_its_commands():
    assert len(README.read_text().splitlines()) < 200
    found = commands()
    assert any(c.startswith("make sweep") for c in found) and any(c.startswith("make test") for c in found)
    assert all(c.split()[0] in ("make", "python") for c in found), found


@pytest.mark.parametrize("command", commands())
def test_every_readme_command_runs(command):
    words = shlex.split(command)
    if words[0] == "make":
        target = words[1]
        proc = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        args = [w.split("=", 1)[1] for w in words[2:] if w.startswith("ARGS=")]
        if target in ("sweep",) and args:
            compose_config(shlex.split(args[0]))
        return
    assert words[0] == "python" and words[1] in SCRIPTS, command
    assert (ROOT / words[1]).is_file()
    if words[1] == "experiments/reproduce.py":
        check_reproduce(words[2:])
        return
    compose_config(overrides_of(words[2:]))  # raises ConfigError naming a bad key


def check_reproduce(words: list) -> None:
    """A reproduction names benchmarks of the registry; its overrides compose with their presets."""
    from hyco.compare.published import load_registry
    from hyco.compare.reproduce import select

    names = []
    for flag, value in zip(words, words[1:]):
        if flag == "--benchmarks":
            names = value.split(",")
    benchmarks = select(load_registry(sorted((ROOT / "experiments" / "published").glob("*.yaml"))), names or None)
    for bench in benchmarks:
        compose_config([f"experiment={bench.preset}", *overrides_of(words)])


def test_the_readmes_links_point_at_files():
    for target in re.findall(r"\]\(([^)#]+)\)", README.read_text()):
        if "://" not in target:
            assert (ROOT / target).is_file(), target
