"""The study's progress on the console: one display for the whole sweep, whatever its workers.

A thread of the launching process reads the study from its storage every ``interval`` seconds
(so trials of spawned workers and of other hosts count too) and shows

* a bar: jobs done / jobs of the whole sweep (its trials, then the fresh-seed re-evaluations of
  each arm's best configuration), elapsed and ETA (on a terminal only: in a log file a redrawn
  bar is noise);
* a status line under it: the best first objective of each arm so far;
* one line per trial as it ends: its arm, state, objective (or why it failed or was pruned), the
  arm's best so far, the count, elapsed and ETA; then one line per re-evaluation as it ends. These
  lines are all a log file gets.

The ETA is this command's own pace (seconds per job so far) times the jobs left; a re-evaluation
trains as long as a trial, so both count as one job each.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState
from tqdm.auto import tqdm

from hyco.sweep.study import ENDED, retried_numbers

REASONS = ("fail_reason", "pruned_reason")


def _clock(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _value(value: Optional[float]) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.4g}"


@dataclass
class ProgressState:
    """What the display knows: trials already reported, the per-arm best, the counts."""

    budget: int
    objective_names: Sequence[str]
    started: float = field(default_factory=time.monotonic)
    initial: int = 0  # trials that had ended before this command started (a resumed study)
    ended: int = 0
    seen: set = field(default_factory=set)
    best: Dict[str, float] = field(default_factory=dict)
    reevals: int = 0  # fresh-seed re-evaluations planned after the trials
    reevals_done: int = 0

    @property
    def total(self) -> int:
        return self.budget + self.reevals

    @property
    def done(self) -> int:
        return min(self.ended, self.budget) + self.reevals_done

    def eta(self) -> Optional[float]:
        """Seconds left at this command's own pace; None before its first job ends."""
        done = self.done - self.initial
        if done <= 0:
            return None
        return (time.monotonic() - self.started) / done * max(0, self.total - self.done)

    def when(self) -> str:
        eta = self.eta()
        return f"elapsed {_clock(time.monotonic() - self.started)}, ETA {'?' if eta is None else _clock(eta)}"

    def best_line(self) -> str:
        if not self.best:
            return "best so far: —"
        ranked = sorted(self.best.items(), key=lambda kv: kv[1])
        return f"best {self.objective_names[0]} so far: " + " · ".join(f"{a} {_value(v)}" for a, v in ranked)


def _arm(trial: FrozenTrial) -> str:
    return str(trial.user_attrs.get("arm") or trial.params.get("arm", "?"))


def _objective(trial: FrozenTrial) -> Optional[float]:
    values = trial.values
    if trial.state != TrialState.COMPLETE or not values or not all(math.isfinite(v) for v in values):
        return None
    return float(values[0])


def _ended_at(trial: FrozenTrial) -> float:
    moment = trial.datetime_complete or trial.datetime_start
    return moment.timestamp() if moment is not None else 0.0


def update(state: ProgressState, trials: Sequence[FrozenTrial]) -> List[str]:
    """Fold newly ended ``trials`` into ``state``; returns one line per newly ended trial."""
    retried = retried_numbers(trials)
    counted = [t for t in trials if t.state in ENDED and t.number not in retried]
    state.ended = len(counted)
    fresh = sorted((t for t in counted if t.number not in state.seen),
                   key=lambda t: (_ended_at(t), t.number))
    lines = []
    for count, trial in enumerate(fresh, start=state.ended - len(fresh) + 1):
        state.seen.add(trial.number)
        arm, value = _arm(trial), _objective(trial)
        if value is not None and value < state.best.get(arm, math.inf):
            state.best[arm] = value
        if value is not None:
            what = f"{_value(value)} (arm best {_value(state.best[arm])})"
        else:
            reason = next((trial.user_attrs[k] for k in REASONS if k in trial.user_attrs), "")
            what = f"{trial.state.name}{': ' + str(reason) if reason else ''}"
        lines.append(f"trial {trial.number:>3} {arm:<15} {what} — {count}/{state.total}, {state.when()}")
    return lines


def reeval_line(state: ProgressState, arm: str, number: int, seed: int, seeds: int, value: Optional[float]) -> str:
    """The line of one fresh-seed re-evaluation of ``arm``'s best trial ``number``."""
    best = state.best.get(arm)
    return (f"seed {seed}/{seeds}  {arm:<15} {_value(value)} (trial {number}: {_value(best)}) — "
            f"{state.done}/{state.total}, {state.when()}")


class StudyProgress:
    """Context manager: shows the study's progress while the workers run (module docstring).

    Parameters
    ----------
    storage, study_name
        Where to read the study (its own connection, read-only).
    budget
        ``sweep.n_trials``: the bar's total.
    objective_names
        The study's objectives, first one ranked.
    interval
        Seconds between reads of the storage.
    """

    def __init__(self, storage: str, study_name: str, budget: int, objective_names: Sequence[str],
                 interval: float = 2.0, reevals: int = 0) -> None:
        self.storage, self.study_name, self.interval = storage, study_name, interval
        self.state = ProgressState(int(budget), list(objective_names), reevals=int(reevals))
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the polling thread and the launcher's own lines, one at a time
        self._thread: Optional[threading.Thread] = None
        self._study: Optional[optuna.Study] = None
        self.bar: Optional[tqdm] = None
        self.status: Optional[tqdm] = None

    def _trials(self) -> List[FrozenTrial]:
        if self._study is None:
            engine = {"connect_args": {"timeout": 30}} if self.storage.startswith("sqlite") else {"pool_pre_ping": True}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                storage = optuna.storages.RDBStorage(self.storage, engine_kwargs=engine)
            self._study = optuna.load_study(study_name=self.study_name, storage=storage)
        return self._study.get_trials(deepcopy=False)

    def poll(self) -> List[str]:
        """Read the study once, write the new trial lines above the bar and redraw it."""
        with self._lock:
            lines = update(self.state, self._trials())
            for line in lines:
                tqdm.write(line)
            self._redraw()
        return lines

    def _redraw(self) -> None:
        if self.bar is not None:
            self.bar.total = self.state.total
            self.bar.n = self.state.done
            self.bar.set_postfix_str(f"ETA {_clock(self.state.eta())}" if self.state.eta() is not None else "",
                                     refresh=False)
            self.bar.refresh()
            self.status.set_description_str(self.state.best_line())

    def plan_reevals(self, count: int) -> None:
        """The re-evaluations the sweep will run (known once the trials have ended); the trials'
        last lines first, so every line's count follows the one before (the polling thread may not
        have read the last trials yet)."""
        with contextlib.suppress(Exception):  # a busy database: the lines come with the next read
            self.poll()
        with self._lock:
            self.state.reevals = int(count)
            self._redraw()

    def reeval_done(self, arm: str, number: int, seed: int, seeds: int, scores: Dict[str, float]) -> None:
        """Count one finished re-evaluation and write its line (``reevaluate``'s ``on_result``)."""
        with self._lock:
            self.state.reevals_done += 1
            value = scores.get(self.state.objective_names[0])
            tqdm.write(reeval_line(self.state, arm, number, seed, seeds,
                                   float(value) if value is not None else None))
            self._redraw()

    def __enter__(self) -> "StudyProgress":
        # trials that ended before this command: counted in the bar, not reported again
        update(self.state, self._trials())  # (their lines are not shown; their best values are)
        self.state.initial = self.state.done
        self.bar = tqdm(total=self.state.total, initial=self.state.done, desc=f"study {self.study_name}",
                        unit="job", dynamic_ncols=True, disable=None, position=0,
                        bar_format="{desc}: {n_fmt}/{total_fmt} jobs |{bar}| elapsed {elapsed}{postfix}")
        self.status = tqdm(total=0, bar_format="{desc}", position=1, disable=None, dynamic_ncols=True, leave=False)
        self.status.set_description_str(self.state.best_line())
        self._thread = threading.Thread(target=self._loop, name="hyco-study-progress", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # a busy database this time: the next read catches up
                continue

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.poll()  # the last trials, before the summary is printed
        finally:
            self.status.close()
            self.bar.close()
