"""Driver for the authors' 3000-epoch Helmholtz experiment (HYCO + FEM only).

Source: MJSteynberg/StaticHybridModelling @ HEAD (e6f2a7d), src/Experiment_1_new.py,
exported unchanged to ./SHM/src (models/, tools/ unchanged too).  The published
result files src/files/experiment_1/*_new_50.npy and results_summary_50.txt
(FEM 0.36578, HYCO phys 0.07204, HYCO syn 0.07588 = min over last 100 epochs of
relative L2 of u on the 50x50 grid over (-pi,pi)^2) are produced by its __main__
with i = 50: subdomain (0,pi)^2, n_train = 25 noise-free points, epochs = 3000,
ghost points 20 -> 800 and lambda_phys (ld,lm) (1,1) -> (1e2,1e-2) at epoch 1500,
phase-1 threshold 1e-1 on the synthetic data MSE.

We import the module unchanged (it chdirs to SHM/) and replay its __main__ for
i = 50 without PINN, plotting and saving: set the module globals xx_train,
yy_train, u_train, xx_eval, yy_eval and call E.train_hybrid(3000) and
E.train_fem(3000).

Random keys in the authors' code (all hard-coded integers):
  * PRNGKey(6) in __main__      -> the 25 data points (split -> rng_x, rng_y)
  * PRNGKey(6) in train_hybrid  -> theta0 (split in 3: amplitudes, centres x, y)
  * PRNGKey(6) in train_hybrid  -> ghost/collocation-point key (split each epoch)
  * PRNGKey(6) in train_fem     -> theta0 (identical draw as in train_hybrid)
  * nnx.Rngs(0) in train_hybrid -> ResNetSynthetic init (net key)
  * nnx.Rngs(0) to PhysicalModel -> unused by PhysicalModel
To change the PRNGKey(6) draws without editing the file, E.jax is replaced by a
thin proxy whose random.PRNGKey(6) returns PRNGKey(<seed for that role>), the
role being given by call order (train_hybrid: theta0 then ghost; train_fem:
theta0); all other jax attributes are forwarded unchanged.  With all seeds = 6
the proxy returns exactly PRNGKey(6), i.e. the authors' run.

CLI:
  --key K            one key for data, theta0 and ghost (authors: 6)
  --data_seed / --theta0_seed / --ghost_seed   override individually
  --net_seed N       ResNetSynthetic init key (default 0 = authors')
  --epochs E         (default 3000; smaller only for smoke tests)
  --no_fem
  --json_out FILE    append one JSON line

Commands (run one at a time):
  (JAX set-up and one-thread flags: experiments/external/authors_helmholtz_draws.py)
  python experiments/external/authors_helmholtz3000_draws.py \
      --authors-src <StaticHybridModelling>/src --key 6 --json_out results_A.jsonl
  for k in 0 1 2 3; do python experiments/external/authors_helmholtz3000_draws.py \
      --authors-src <StaticHybridModelling>/src --key $k --json_out results_A.jsonl; done
"""
# ruff: noqa: E402  (the authors' folder goes on sys.path before their modules are imported)
import json
import time
import types

from draws_output import draw_parser, emit, parse_draw_args  # this folder's shared helpers (on sys.path)

p = draw_parser(__doc__, "StaticHybridModelling/src")
p.add_argument("--key", type=int, default=6)
p.add_argument("--data_seed", type=int, default=None)
p.add_argument("--theta0_seed", type=int, default=None)
p.add_argument("--ghost_seed", type=int, default=None)
p.add_argument("--net_seed", type=int, default=0)
p.add_argument("--epochs", type=int, default=3000)
args = parse_draw_args(p)
data_seed = args.key if args.data_seed is None else args.data_seed
theta0_seed = args.key if args.theta0_seed is None else args.theta0_seed
ghost_seed = args.key if args.ghost_seed is None else args.ghost_seed

import Experiment_1_new as E  # authors' module, unchanged (chdirs to SHM/)
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

print("jax", jax.__version__, "x64:", jax.config.jax_enable_x64, "devices:", jax.devices())


class _RandomProxy:
    def __init__(self):
        self.queue = []

    def PRNGKey(self, s):
        assert s == 6, f"unexpected hard-coded key {s}"
        assert self.queue, "more PRNGKey(6) calls than expected"
        return jax.random.PRNGKey(self.queue.pop(0))

    def __getattr__(self, name):
        return getattr(jax.random, name)


class _JaxProxy(types.ModuleType):
    def __init__(self):
        super().__init__("jax_proxy")
        self.random = _RandomProxy()

    def __getattr__(self, name):
        return getattr(jax, name)


PROXY = _JaxProxy()
E.jax = PROXY

if args.net_seed != 0:
    _Orig = E.ResNetSynthetic

    def _seeded(*a, rngs=None, **kw):
        return _Orig(*a, rngs=nnx.Rngs(args.net_seed), **kw)

    E.ResNetSynthetic = _seeded


def rel(a, b):
    return float(np.linalg.norm(np.ravel(a) - np.ravel(b)) / np.linalg.norm(np.ravel(b)))


def main():
    pi = jnp.pi
    L = E.L
    true_params = np.asarray(E.true_params, dtype=np.float64)
    # __main__ with i = 50
    subdomain = [(0, pi), (0, pi)]
    n_train = 25
    rng_x, rng_y = jax.random.split(jax.random.PRNGKey(data_seed))
    xx_train = jax.random.uniform(rng_x, shape=(n_train,), minval=subdomain[0][0], maxval=subdomain[0][1])
    yy_train = jax.random.uniform(rng_y, shape=(n_train,), minval=subdomain[1][0], maxval=subdomain[1][1])
    xx_eval = jnp.linspace(-pi, pi, 50)
    yy_eval = jnp.linspace(-pi, pi, 50)
    xx_eval, yy_eval = jnp.meshgrid(xx_eval, yy_eval)
    xx_eval = xx_eval.flatten()
    yy_eval = yy_eval.flatten()
    u_train = E.u_true(xx_train, yy_train, L).reshape(-1, 1)
    E.xx_train, E.yy_train, E.u_train = xx_train, yy_train, u_train
    E.xx_eval, E.yy_eval = xx_eval, yy_eval
    u_real = np.asarray(E.u_true(xx_eval, yy_eval, L).reshape(-1, 1))
    print("keys: data", data_seed, "theta0", theta0_seed, "ghost", ghost_seed, "net", args.net_seed)
    print("x_train[:3]", np.asarray(xx_train[:3]), "y_train[:3]", np.asarray(yy_train[:3]))

    res = dict(data_seed=data_seed, theta0_seed=theta0_seed, ghost_seed=ghost_seed,
               net_seed=args.net_seed, epochs=args.epochs)

    PROXY.random.queue = [theta0_seed, ghost_seed]
    t0 = time.time()
    lh_phys, lh_syn, ph, u_phys, u_syn = E.train_hybrid(args.epochs)
    t_hyb = time.time() - t0
    assert not PROXY.random.queue
    zero = np.all(ph == 0, axis=1)
    nz = np.nonzero(~zero)[0]
    final_theta = ph[nz[-1]] if len(nz) else None
    res.update(
        hyco_phase1_epochs=int(zero.sum()),
        hyco_first_phase2_epoch=int(nz[0]) if len(nz) else None,
        hyco_last_phase2_epoch=int(nz[-1]) if len(nz) else None,
        hyco_phys_relL2_min_last100=float(np.min(lh_phys[-100:])),
        hyco_syn_relL2_min_last100=float(np.min(lh_syn[-100:])),
        hyco_phys_relL2_final=rel(u_phys, u_real),
        hyco_syn_relL2_final=rel(u_syn, u_real),
        hyco_theta=None if final_theta is None else final_theta.tolist(),
        hyco_param_err=None if final_theta is None else rel(final_theta, true_params),
        hyco_wall_s=t_hyb)
    print("HYCO", json.dumps(res))

    if not args.no_fem:
        PROXY.random.queue = [theta0_seed]
        t0 = time.time()
        lh_fem, ph_fem, u_fem = E.train_fem(args.epochs)
        assert not PROXY.random.queue
        res.update(
            fem_relL2_min_last100=float(np.min(lh_fem[-100:])),
            fem_relL2_final=rel(u_fem, u_real),
            fem_theta=ph_fem[-1].tolist(),
            fem_param_err=rel(ph_fem[-1], true_params),
            fem_wall_s=time.time() - t0)

    emit(res, args.json_out)


if __name__ == "__main__":
    main()
