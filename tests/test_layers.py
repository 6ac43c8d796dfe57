"""The package's layers import only downwards.

Every module of ``hyco`` is read as source (so deferred imports inside functions count too) and
each ``import``/``from ... import`` of a ``hyco`` module is checked against the layer order below:
a module may import from its own layer or a lower one, never from a higher one. This is what
keeps the core (config, physics, data) usable without the ML layers above it, and a new layer
must be placed here on purpose.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Tuple

import hyco

# lowest first; packages on one line share a layer
LAYERS: List[Tuple[str, ...]] = [
    ("hyco.errors", "hyco.metrics"),  # leaves every layer may use
    ("hyco.core",),  # registry, plug-ins, files, paths, console
    ("hyco.config",),  # schema, what each key changes, pure rules
    ("hyco.fields",),  # field specs and the converter
    ("hyco.physics", "hyco.synthetic"),  # PDE models; networks
    ("hyco.data",),  # generation, observation, cache, datasets
    ("hyco.training",),  # players and their machinery
    ("hyco.arms",),  # the arms and their registry
    ("hyco.compose",),  # composition and the checks that need the registries
    ("hyco.tracking",),  # the only package that imports mlflow
    ("hyco.runs",),  # tracked, resumable runs
    ("hyco.evaluation",),  # scores of each registered player
    ("hyco.compare", "hyco.sweep"),  # the comparison of arms; the Optuna layer
    ("hyco.app",),  # entry points
]
FACE = "hyco"  # the package face: its version only


def layer_of(module: str) -> int:
    for index, packages in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in packages):
            return index
    raise AssertionError(f"{module} belongs to no layer: place it in tests/test_layers.py on purpose")


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, module: str) -> List[Tuple[str, int]]:
    """Every ``hyco`` module imported by the source (top level and deferred), with its line."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "hyco"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            if name.split(".")[0] == "hyco":
                found.append((name, node.lineno))
                # "from hyco import tracking" imports the sub-package
                found += [(f"{name}.{a.name}", node.lineno) for a in node.names if name == FACE]
    return found


def violations(root: Path) -> List[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        if module == FACE:
            continue
        mine = layer_of(module)
        for target, line in imports_of(path, module):
            if target == FACE:
                continue
            if layer_of(target) > mine:
                out.append(f"{path.relative_to(root.parent)}:{line}: {module} (layer {mine}) imports {target} "
                           f"(layer {layer_of(target)})")
    return out


def test_every_module_has_a_layer():
    root = Path(hyco.__file__).parent
    for path in root.rglob("*.py"):
        module = module_name(path, root)
        if module != FACE:
            layer_of(module)


def test_no_module_imports_a_higher_layer():
    assert violations(Path(hyco.__file__).parent) == []


def test_a_deliberate_upward_import_is_caught(tmp_path):
    """The test can fail: a copy of the package with one deferred upward import (config reaching
    for the sweep) is reported, naming the file and line."""
    import shutil

    root = tmp_path / "hyco"
    shutil.copytree(Path(hyco.__file__).parent, root, ignore=shutil.ignore_patterns("__pycache__"))
    target = root / "config" / "validation.py"
    target.write_text(target.read_text() + "\n\ndef _peek():\n    from hyco.sweep.space import arms_for  # up\n"
                      "    return arms_for\n")
    found = violations(root)
    assert len(found) == 1 and "hyco/config/validation.py" in found[0] and "hyco.sweep.space" in found[0], found


def test_the_top_of_the_package_holds_only_its_face_and_the_leaves():
    root = Path(hyco.__file__).parent
    loose = sorted(p.name for p in root.glob("*.py"))
    assert loose == ["__init__.py", "errors.py", "metrics.py"]


def layer_table() -> Dict[str, List[str]]:
    """The layers as the test sees them (printed by ``python tests/test_layers.py``)."""
    root = Path(hyco.__file__).parent
    table: Dict[str, List[str]] = {" ".join(packages): [] for packages in LAYERS}
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        if module != FACE:
            table[" ".join(LAYERS[layer_of(module)])].append(module)
    return table


if __name__ == "__main__":
    for index, (layer, modules) in enumerate(layer_table().items()):
        print(f"{index:2d}  {layer:35s} {len(modules):3d} modules")


def _code_strings(tree: ast.AST) -> List[str]:
    """String constants of a module that are not docstrings."""
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def test_evaluation_comparison_and_sweep_read_the_arm_registry_and_never_name_an_arm():
    from hyco.arms import available_arms

    root = Path(hyco.__file__).parent
    arms = [a for a in available_arms() if a != "full"]  # "full" is also an English word in messages
    for package in ("evaluation", "compare", "sweep"):
        for path in (root / package).rglob("*.py"):
            module = module_name(path, root)
            tree = ast.parse(path.read_text())
            imported = [name for name, _ in imports_of(path, module)]
            assert not [n for n in imported if n.startswith("hyco.training")], (module, imported)
            assert not [n for n in imported if n.startswith("hyco.arms.") and n not in ("hyco.arms.spec",)], module
            for text in _code_strings(tree):
                named = [arm for arm in arms if re.search(rf"\b{arm}\b", text)]
                assert not named, (module, text)
