"""The console: log lines go through tqdm at the chosen level, detail goes to the run's log file,
and the sweep's study display reports each ended trial once."""

from __future__ import annotations

import io
import logging
import math
from types import SimpleNamespace

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from hyco.core import console
from hyco.sweep.progress import ProgressState, StudyProgress, reeval_line, update


@pytest.fixture
def restore_logging(monkeypatch):
    """setup_logging changes process-wide state: put the root logger back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    project = logging.getLogger(console.PROJECT_LOGGER)
    project_level = project.level
    monkeypatch.delenv(console.LEVEL_ENV, raising=False)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    project.setLevel(project_level)
    logging.captureWarnings(False)


def _console_text(monkeypatch) -> io.StringIO:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    return stream


def test_info_shows_and_epoch_detail_stays_hidden_by_default(restore_logging, monkeypatch):
    stream = _console_text(monkeypatch)
    console.setup_logging(None)
    log = logging.getLogger("hyco.training.tensor")
    log.debug("epoch 1/2 synthetic/train_loss=0.1")
    log.info("study started")
    log.warning("trial 3 failed: DivergedError")
    text = stream.getvalue()
    assert "study started" in text and "trial 3 failed" in text
    assert "epoch 1/2" not in text


def test_debug_level_brings_the_detail_back_and_reaches_spawned_workers(restore_logging, monkeypatch):
    stream = _console_text(monkeypatch)
    assert console.setup_logging("debug") == logging.DEBUG
    logging.getLogger("hyco.arms.hyco").debug("round 1/2 (exchange)")
    assert "round 1/2" in stream.getvalue()
    assert console.parse_level(None) == logging.DEBUG  # through HYCO_LOG_LEVEL, which children inherit


def test_one_tqdm_aware_handler_replaces_stream_handlers(restore_logging):
    logging.basicConfig(level=logging.INFO)
    console.setup_logging("INFO")
    console.setup_logging("INFO")  # idempotent: never two handlers, never a line twice
    streams = [h for h in logging.getLogger().handlers  # (files, e.g. pytest's own, are kept)
               if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    assert streams == []
    assert sum(isinstance(h, console.TqdmLoggingHandler) for h in logging.getLogger().handlers) == 1


def test_a_wrong_level_names_the_key():
    with pytest.raises(ValueError, match="log_level"):
        console.parse_level("LOUD")


def test_run_log_file_gets_debug_lines_whatever_the_console_shows(restore_logging, monkeypatch, tmp_path):
    stream = _console_text(monkeypatch)
    console.setup_logging("WARNING")
    with console.capture_run_log(tmp_path / "logs" / "train.log") as path:
        logging.getLogger("hyco.training.physical").debug("epoch 7/20 physical/total_loss=0.001")
    logging.getLogger("hyco.training.physical").debug("after the run")
    text = path.read_text()
    assert "[DEBUG] epoch 7/20" in text and "after the run" not in text
    assert "epoch 7/20" not in stream.getvalue()


def test_study_display_hides_run_bars_and_restores_them(monkeypatch):
    monkeypatch.delenv(console.BARS_ENV, raising=False)
    assert console.run_bars_enabled()
    with console.study_display():
        assert not console.run_bars_enabled()
        assert console.phase_bar(range(3), "synthetic epochs").disable
    assert console.run_bars_enabled()


def _trial(number, arm, state, value=None, **attrs):
    return SimpleNamespace(number=number, state=state, values=None if value is None else [value],
                           params={"arm": arm}, user_attrs={"arm": arm, **attrs}, system_attrs={},
                           datetime_complete=None, datetime_start=None)


def test_progress_reports_each_ended_trial_once_with_the_arm_best():
    state = ProgressState(budget=4, objective_names=["forecast_error"])
    trials = [_trial(0, "cooperative", TrialState.COMPLETE, 0.4), _trial(1, "mixed", TrialState.RUNNING)]
    [line] = update(state, trials)
    assert "trial   0 cooperative" in line and "0.4 (arm best 0.4)" in line and "1/4" in line
    trials[1] = _trial(1, "mixed", TrialState.FAIL, fail_reason="DivergedError: loss grew")
    trials.append(_trial(2, "cooperative", TrialState.COMPLETE, 0.3))
    lines = update(state, trials)
    assert len(lines) == 2 and update(state, trials) == []
    assert any("FAIL: DivergedError: loss grew" in line for line in lines)
    assert any("arm best 0.3" in line and "3/4" in line for line in lines)
    assert state.best == {"cooperative": 0.3}
    assert "cooperative 0.3" in state.best_line() and "mixed" not in state.best_line()
    assert not math.isnan(state.eta())
    state.reevals = 2  # the re-evaluations after the trials count in the total and the ETA
    assert state.total == 6 and state.done == 3
    state.reevals_done = 1
    line = reeval_line(state, "cooperative", 2, 1, 2, 0.35)
    assert line.startswith("seed 1/2  cooperative") and "0.35 (trial 2: 0.3)" in line and "4/6" in line


def test_bar_metrics_show_each_players_loss_the_validation_misfit_and_parameter_errors():
    shown = console.bar_metrics({"synthetic/total_loss": 0.12345, "physical/total_loss": 2e-5,
                                 "synthetic/data_loss": 0.5, "param/nu": 0.01, "param/nu_rel_error": 0.031,
                                 "time/round_s": 1.0, "hyco/alpha": 0.3})
    assert shown == {"S loss": "0.123", "P loss": "2e-05", "val": "0.5", "nu err": "0.031"}
    assert console.bar_metrics({"pinn/total_loss": 1.5, "param/D_rel_error": 0.2, "param/D": 0.1}) == {
        "loss": "1.5", "D err": "0.2"}


def test_the_last_trials_are_written_before_the_first_re_evaluation(tmp_path, capsys):
    """The polling thread may not have read the last trials when the re-evaluations start: their
    lines come first, so the counts run in order (1/6, 2/6, 3/6)."""
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(storage=url, study_name="s")
    arms = ["synthetic_only", "physical_only"]
    for n, arm in enumerate(arms):
        study.add_trial(create_trial(value=0.1 * (n + 1), params={"arm": arm}, user_attrs={"arm": arm},
                                     distributions={"arm": CategoricalDistribution(arms)}))
    progress = StudyProgress(url, "s", budget=2, objective_names=["forecast_error"], interval=3600, reevals=4)
    progress.plan_reevals(4)
    progress.reeval_done("physical_only", 1, 1, 2, {"forecast_error": 0.25})
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" — ")[1].split(",")[0] for line in lines] == ["1/6", "2/6", "3/6"], lines
    assert lines[0].startswith("trial   0 synthetic_only") and lines[2].startswith("seed 1/2  physical_only")
