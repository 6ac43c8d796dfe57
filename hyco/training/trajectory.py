"""The physical player of a reconstruction problem: the whole trajectory from the known initial state.

The physical model is rolled out over every frame from the training trajectory's initial state
(the papers fit the whole horizon, not windows) and read at the observed points, and at ghost
points, by multilinear interpolation of its grid at each point's frame. One step of
``trainer.physical_optimizer`` per call of :meth:`TrajectoryPhysics.update` (Adam with
``physical_betas`` and an optional OneCycle schedule: the papers' single steps; L-BFGS-B runs
``physical_iterations_per_epoch`` iterations) on

    lambda_data * MSE(P(points), values) + lambda_int * MSE(P(ghosts), targets).

The data term skips frame 0, which the model is given exactly (as the authors do). A static
model (:mod:`hyco.physics.static`) has no rollout: its "trajectory" is its solution, one frame,
fitted at every observed point; it is scored as the papers score it, read at the points of the
reference grid (:meth:`TrajectoryPhysics.reconstruction_error`).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch

from hyco.data.points import extent_of
from hyco.data.scattered import ScatteredData, reconstruction_scores
from hyco.fields.interpolate import FrameReader
from hyco.training.field import FitResult
from hyco.training.physical import PhysicalTrainer


class TrajectoryPhysics(PhysicalTrainer):
    """Fits the physical parameters to scattered observations of whole trajectories (module docstring)."""

    def __init__(self, cfg: Any, model: Any, data: ScatteredData, context: Any = None) -> None:
        super().__init__(cfg, model, None, None, context)
        self.data = data
        extents = [extent_of(model, name) for name in model.dynamic_fields]
        self.first, self.spacing, self.periodic = extents[0].first, extents[0].spacing, extents[0].periodic
        self.channels = sum(model.channels.values())
        self.terms: Dict[str, float] = {"data": 0.0, "interaction": 0.0}
        self.last_grid: Optional[torch.Tensor] = None  # the trajectory after the last update
        # interpolation weights of the points read again and again (sensors, the reference grid, the
        # epoch's ghost points read from two trajectories), the most recent first
        self._readers: List[Tuple[torch.Tensor, int, torch.Tensor, torch.Size, torch.dtype, FrameReader]] = []
        self._observed: Optional[List[Tuple[torch.Tensor, ...]]] = None

    # ------------------------------------------------------------------ predictions
    def trajectory(self, z: Optional[Dict[str, torch.Tensor]] = None) -> torch.Tensor:
        """The rollout from every training initial state over every frame, frame 0 included:
        ``[S, T, C, *s]`` (differentiable in ``z``; the current parameters when None). A static
        model's solution as its one frame, ``[S, 1, C, *s]``."""
        params = self.physics_params(self.z if z is None else z)
        if not self.model.time_dependent:
            solution = self.model.solve(params)
            return solution[None, None].expand(self.data.x0.shape[0], 1, *solution.shape)
        x0 = self.data.x0.to(self.model.device)
        frames = self.rollout_tensor(x0, self.data.num_frames - 1, params)
        return torch.cat([x0[:, None, :self.channels], frames], dim=1)

    def at(self, grid: torch.Tensor, points: torch.Tensor, frames: torch.Tensor, sims: torch.Tensor,
           channels: slice) -> torch.Tensor:
        """The trajectory ``grid [S, T, C, *s]`` read at ``points`` (their frame and simulation):
        ``[N, C_field]``."""
        flat = grid.reshape(-1, *grid.shape[2:])[:, channels]  # [S * T, C_f, *s]
        return self.reader(flat, points, sims.to(grid.device) * grid.shape[1] + frames.to(grid.device))(flat)

    def reader(self, flat: torch.Tensor, points: torch.Tensor, index: torch.Tensor) -> FrameReader:
        """The interpolation of frames like ``flat`` at ``points`` of frames ``index``, reused while
        the same points tensor (unchanged) is read at the same frames."""
        for entry in self._readers:
            held, version, held_index, shape, dtype, reader = entry
            if (held is points and version == points._version and shape == flat.shape[2:] and dtype == flat.dtype
                    and torch.equal(held_index, index)):
                return reader
        reader = FrameReader(flat.shape, flat.dtype, index, self.first, self.spacing,
                             points[:, : self.model.dim].to(flat.device), self.periodic, outside="zero")
        self._readers = [(points, points._version, index, flat.shape[2:], flat.dtype, reader)] + self._readers[:7]
        return reader

    def observed(self) -> List[Tuple[torch.Tensor, ...]]:
        """Per observed field, ``(points, frames, sims, values, channels)`` of the points fitted
        (frames ``>= 1``; every one of a static problem), selected once."""
        if self._observed is None:
            self._observed = []
            for obs in self.data.observed.values():
                keep = obs.frames >= self.data.first
                if bool(keep.any()):
                    self._observed.append((obs.points[keep], obs.frames[keep], obs.sims[keep], obs.values[keep],
                                           obs.channels))
        return self._observed

    def data_misfit(self, grid: torch.Tensor) -> torch.Tensor:
        """Mean squared misfit at the observed points of frames ``>= 1`` (every frame of a static problem)."""
        total, count = 0.0, 0
        for points, frames, sims, values, channels in self.observed():
            pred = self.at(grid, points, frames, sims, channels)
            total = total + (pred - values.to(pred.device)).square().sum()
            count += len(points) * pred.shape[1]
        return total / max(count, 1)

    def interaction(self, grid: torch.Tensor, ghosts: Tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Mean squared disagreement with ``targets`` at ghost ``points`` of ``frames`` (training sim 0)."""
        points, frames, targets = ghosts
        if len(points) == 0:
            return torch.zeros((), device=grid.device)
        sims = torch.zeros_like(frames)
        pred = self.at(grid, points, frames, sims, slice(0, self.channels))
        return (pred - targets.to(pred.device)).square().mean()

    # ------------------------------------------------------------------ one update
    def update(self, ghosts: Optional[tuple] = None, lambda_data: float = 1.0, lambda_int: float = 0.0) -> FitResult:
        """One fit of ``lambda_data * data + lambda_int * interaction`` (module docstring)."""
        terms: Dict[str, float] = {}

        def loss_fn(z: Dict[str, torch.Tensor], optimising: bool = True) -> torch.Tensor:
            grid = self.trajectory(z)
            if not torch.is_grad_enabled():  # the fit's final evaluation: the trajectory it leaves
                self.last_grid = grid.detach()
            data = self.data_misfit(grid)
            inter = self.interaction(grid, ghosts) if ghosts is not None and lambda_int > 0 else torch.zeros(())
            loss = lambda_data * data + lambda_int * inter + self.smoothness_penalty(z)
            terms.update(data=float(data.detach()), interaction=float(inter.detach()))
            if optimising:
                if self.step == self.cfg.trainer.inject_nan_at_step:
                    loss = loss * float("nan")  # test hook: simulate a diverging step
                self.step += 1
                self.evaluations += 1
            return loss

        result = self.minimise(loss_fn, int(self.cfg.trainer.physical_iterations_per_epoch))
        self.terms = terms
        return result

    def predict_points(self, points: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """The current trajectory of training simulation 0 at ``points`` of ``frames``: ``[N, C]``."""
        with torch.no_grad():
            grid = self.trajectory()
        return self.at(grid, points, frames, torch.zeros_like(frames), slice(0, self.channels)).cpu()

    def reconstruction_error(self, grid: Optional[torch.Tensor] = None) -> Dict[str, float]:
        """The trajectory against the clean truth on its grid over frames ``1..T-1``:
        ``{"rel_l2", "mse"}`` (:func:`~hyco.data.scattered.reconstruction_scores`). A static
        solution is read at every point of the reference grid and scored there (the static papers'
        metric: the physical player interpolated on their 50 x 50 grid)."""
        if grid is None:
            with torch.no_grad():
                grid = self.trajectory()
        if self.data.static:
            grid = grid.detach()
            return self.data.field_error(lambda points: self.at(
                grid, points, torch.zeros(len(points), dtype=torch.long), torch.zeros(len(points), dtype=torch.long),
                slice(0, self.channels)))
        return reconstruction_scores(grid[:, 1:].cpu(), self.data.truth[:, 1:])
