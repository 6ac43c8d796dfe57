"""What the authors'-code draw scripts in this folder share: their common arguments (where the authors'
code lies, FEM on or off, the JSON file) and their one output, a ``RESULT {json}`` line on stdout and,
with ``--json_out``, the same JSON appended as one line to that file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, Optional


def draw_parser(description: str, authors_src: str) -> argparse.ArgumentParser:
    """A parser with the arguments every draw script takes; ``authors_src`` names the folder it needs."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--authors-src", required=True, help=f"the authors' {authors_src} folder")
    p.add_argument("--no_fem", action="store_true", help="HYCO only")
    p.add_argument("--json_out", type=str, default=None, help="append one JSON line per run here")
    return p


def parse_draw_args(p: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, put the authors' code first on ``sys.path`` and make ``--json_out`` absolute (their modules
    change the working directory when imported)."""
    args = p.parse_args()
    sys.path.insert(0, os.path.abspath(args.authors_src))
    if args.json_out:
        args.json_out = os.path.abspath(args.json_out)
    return args


def emit(result: Dict[str, Any], json_out: Optional[str]) -> None:
    """Print ``result`` and append it to ``json_out`` (an absolute path: the authors' modules change
    the working directory) when one is given."""
    line = json.dumps(result)
    print("RESULT " + line)
    if json_out:
        with open(json_out, "a") as f:
            f.write(line + "\n")
