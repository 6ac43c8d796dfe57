"""The one output of the authors'-code draw scripts in this folder: a ``RESULT {json}`` line on stdout
and, with ``--json_out``, the same JSON appended as one line to that file."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional


def emit(result: Dict[str, Any], json_out: Optional[str]) -> None:
    """Print ``result`` and append it to ``json_out`` (an absolute path: the authors' modules change
    the working directory) when one is given."""
    line = json.dumps(result)
    print("RESULT " + line)
    if json_out:
        with open(json_out, "a") as f:
            f.write(line + "\n")
