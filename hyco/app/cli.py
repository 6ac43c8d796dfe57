"""The command line of ``experiments/run.py``: Hydra overrides in, tasks out.

Composition goes through :func:`hyco.compose.compose_config` (the same path as the comparison
and the sweep), so every configuration mistake, Hydra's own included, is one line naming the key,
with exit status 2, before any compute. Everything after it runs through the one error path
(:func:`hyco.core.exits.run_guarded`): a failure is one line and its class's exit status
(``docs/reliability.md``), Ctrl-C or SIGTERM ends the run KILLED, resumable.
"""

from __future__ import annotations

import sys
from typing import List, Optional, Sequence

USAGE = """usage: python experiments/run.py [--cfg job] [-v] [KEY=VALUE ...]

  KEY=VALUE   Hydra overrides, e.g. experiment=burgers_2d_quick trainer=cooperative task=[generate,train,evaluate]
  --cfg job   print the composed, checked config and exit
  -v          every epoch on the console (log_level=DEBUG), and the traceback of a failure

Config groups: conf/ (data, ic, physics, observation, synthetic, trainer, tracking, evaluation,
sweep, experiment); every key is typed by hyco/config/schema.py and the arms' and networks' nodes.
"""



def run_main(argv: Optional[Sequence[str]] = None) -> int:
    """Compose, check and run; returns the exit status."""
    from hyco.core.exits import run_guarded, wants_verbose

    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    return run_guarded(lambda: _main(args), verbose=wants_verbose(args))


def _main(args: List[str]) -> int:
    from hyco.errors import ConfigError

    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        return 0
    show = False
    if "--cfg" in args:
        i = args.index("--cfg")
        what = args[i + 1] if i + 1 < len(args) else ""
        if what != "job":
            raise ConfigError("--cfg takes 'job' (print the composed config)")
        del args[i:i + 2]
        show = True
    verbose = any(a in ("-v", "--verbose") for a in args)
    overrides = [a for a in args if a not in ("-v", "--verbose")]
    if verbose:
        overrides.append("log_level=DEBUG")

    from omegaconf import OmegaConf

    from hyco.compose import compose_config

    cfg = compose_config(overrides)
    if show:
        print(OmegaConf.to_yaml(cfg))
        return 0
    from hyco.app.tasks import run_tasks

    run_tasks(cfg)
    return 0
