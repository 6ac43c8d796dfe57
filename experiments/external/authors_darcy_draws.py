"""Driver for the authors' StaticHYCO Darcy experiment (HYCO + FEM only), noise 0.2.

Source: MJSteynberg/HYCO-Code @ HEAD (e9cb1c2), StaticHYCO/src/darcy.py with
tools/training.py, tools/experiment_utils.py, models/ exported unchanged to
./HYCO/StaticHYCO/src.  We import darcy.py unchanged (it chdirs to StaticHYCO/)
and replay its main() for errors=[0.2], weights=[(0.8, 1.5)], skipping the PINN,
the plotting and the saving, and skipping the true-solution cache (the cache
files in the repository are Git-LFS pointers; main() would regenerate them, we
just compute the truth directly with the same code path:
generate_true_solution(desired_true_params) evaluated on the 50x50 eval grid).

Published (HYCO/StaticHYCO/src/files/darcy/results_0.2.txt):
  FEM Loss final 0.12852 (data MSE), Hybrid Phys Loss final 0.14019,
  FEM Final Param Error 0.46982, Hybrid Final Param Error 0.44909.

Phase-1 threshold: darcy.py calls HybridTrainer(config) i.e.
syn_phase1_threshold=None; the code then uses threshold_value = 0.1, whereas the
HybridTrainer docstring says "If None: uses 0.5 * max(ld_syn, lm_syn) (Darcy
default behavior)" = 0.5*max(1, 50) = 25.  This driver does what the code does
(0.1) unless --threshold is given.

Random keys in the authors' code:
  * config.train_seed (6)  -> the 50 data points (DataGenerator.generate_training_data)
                              AND the ghost/collocation-point key
                              (HybridTrainer.train: rng = PRNGKey(config.train_seed));
                              theta0 would also use it, but darcy.py passes a fixed
                              initial_params_value, so theta0 is key-independent.
  * config.noise_seed (42) -> the Gaussian noise on u_train
  * config.seed (5)        -> not used anywhere
  * nnx.Rngs(0)            -> ResNetSynthetic init (hard-coded in create_models)

CLI:
  --train_seed T   (default 6)   data points + ghost key
  --noise_seed N   (default 42)  noise key
  --ghost_seed G   override the ghost key only (default = train_seed)
  --threshold X    override phase-1 threshold (default None -> code uses 0.1)
  --epochs E       (default 2500 = config; smaller only for smoke tests)
  --no_fem, --json_out FILE

Commands (one at a time):
  (JAX set-up and one-thread flags: experiments/external/authors_helmholtz_draws.py)
  python experiments/external/authors_darcy_draws.py \
      --authors-src <HYCO-Code>/StaticHYCO/src --train_seed 6 --noise_seed 42 --json_out results_B.jsonl
  for k in 0 1 2; do python experiments/external/authors_darcy_draws.py \
      --authors-src <HYCO-Code>/StaticHYCO/src --train_seed $k --noise_seed $k --json_out results_B.jsonl; done
"""
# ruff: noqa: E402  (the authors' folder goes on sys.path before their modules are imported)
import json
import time

from draws_output import draw_parser, emit, parse_draw_args  # this folder's shared helpers (on sys.path)

p = draw_parser(__doc__, "HYCO-Code/StaticHYCO/src")
p.add_argument("--train_seed", type=int, default=6)
p.add_argument("--noise_seed", type=int, default=42)
p.add_argument("--ghost_seed", type=int, default=None)
p.add_argument("--threshold", type=float, default=None)
p.add_argument("--epochs", type=int, default=None)
args = parse_draw_args(p)
ghost_seed = args.train_seed if args.ghost_seed is None else args.ghost_seed

import darcy as D  # authors' module, unchanged (chdirs to StaticHYCO/)
import jax
import jax.numpy as jnp
import numpy as np
from tools.training import FEMTrainer, HybridTrainer, compute_param_error

print("jax", jax.__version__, "x64:", jax.config.jax_enable_x64, "devices:", jax.devices())


def main():
    config = D.DarcyFlowConfig()
    config.train_seed = args.train_seed
    config.noise_seed = args.noise_seed
    if args.epochs is not None:
        config.epochs = args.epochs
    dg = D.DataGenerator(config)
    true_params = jnp.array([0.5, 1.0, 2.0, 3.0, 4.0, -1.0, -2.0, -3.0, -4.0, 5.0])
    xx_eval, yy_eval = dg.generate_evaluation_grid()
    t0 = time.time()
    true_model = dg.generate_true_solution(true_params)
    u_true = jax.vmap(lambda x, y: true_model(x, y))(xx_eval, yy_eval).reshape(-1, 1)
    my_initial_params = jnp.array([0.1, 0.2, 0.8, 4.0, 5.0, -0.1, 0.05, -1.0, -3.0, 1.0])
    error, weight = 0.2, (0.8, 1.5)
    xx_train, yy_train, u_train = dg.generate_training_data(true_model, noise_level=error)
    t_truth = time.time() - t0
    print("keys: train(data)", args.train_seed, "noise", args.noise_seed, "ghost", ghost_seed,
          "threshold", args.threshold, "truth+data s", round(t_truth, 1))
    print("x_train[:3]", np.asarray(xx_train[:3]), "u_train[:3]", np.asarray(u_train[:3, 0]))
    def forcing(x, y):
        return D.forcing_function(true_params, x, y, config.domain_size)

    res = dict(train_seed=args.train_seed, noise_seed=args.noise_seed, ghost_seed=ghost_seed,
               threshold_arg=args.threshold, epochs=config.epochs, noise=error, weight=weight,
               truth_s=t_truth)

    config.train_seed = ghost_seed  # HybridTrainer.train reads it for the ghost key
    t0 = time.time()
    ht = HybridTrainer(config, syn_phase1_threshold=args.threshold)
    (lp, ls, l2p, l2s, ph, u_p, u_s) = ht.train(
        xx_train, yy_train, u_train, xx_eval, yy_eval, u_true, weight, true_params,
        initial_params_value=my_initial_params, forcing_func=forcing,
        kappa_func=D.kappa, eta_func=D.eta)
    t_h = time.time() - t0
    config.train_seed = args.train_seed
    nz = np.nonzero(~np.all(ph == 0, axis=1))[0]
    final_theta = ph[nz[-1]] if len(nz) else np.asarray(my_initial_params)
    res.update(
        hyco_phase2_epochs=int(len(nz)),
        hyco_first_phase2_epoch=int(nz[0]) if len(nz) else None,
        hyco_last_epoch_is_phase2=bool(len(nz) and nz[-1] == config.epochs - 1),
        hyco_phys_relL2_final=float(ht.compute_l2_error(u_p, u_true)),
        hyco_syn_relL2_final=float(ht.compute_l2_error(u_s, u_true)),
        hyco_param_err=float(compute_param_error(jnp.asarray(final_theta), true_params)),
        hyco_param_err_authors_row_minus1=float(compute_param_error(jnp.asarray(ph[-1]), true_params)),
        hyco_phys_dataMSE_final=float(lp[-1]),
        hyco_phys_dataMSE_min_last100=float(np.min(lp[-100:])),
        hyco_syn_dataMSE_final=float(ls[-1]),
        hyco_theta=np.asarray(final_theta).tolist(),
        hyco_wall_s=t_h)
    print("HYCO " + json.dumps(res))

    if not args.no_fem:
        t0 = time.time()
        ft = FEMTrainer(config)
        fl, fl2, fph, u_f = ft.train(
            xx_train, yy_train, u_train, xx_eval, yy_eval, u_true, true_params,
            initial_params_value=my_initial_params, forcing_func=forcing,
            kappa_func=D.kappa, eta_func=D.eta)
        res.update(
            fem_relL2_final=float(ft.compute_l2_error(u_f, u_true)),
            fem_param_err=float(compute_param_error(jnp.asarray(fph[-1]), true_params)),
            fem_dataMSE_final=float(fl[-1]),
            fem_dataMSE_min_last100=float(np.min(fl[-100:])),
            fem_theta=np.asarray(fph[-1]).tolist(),
            fem_wall_s=time.time() - t0)

    emit(res, args.json_out)


if __name__ == "__main__":
    main()
