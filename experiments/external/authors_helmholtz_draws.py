"""The authors' own Helmholtz experiment over other random draws (HYCO and physics alone).

The published Helmholtz HYCO parameter error (0.0303, HYCO-Code ``StaticHYCO/src/helmholtz.py``) is one
run from one JAX key. This script imports the authors' modules unchanged and replays their ``main()``
(HYCO and FEM = physics alone; no PINN, plots or files) with the keys as arguments, so that the spread
of their own method over draws can be set beside ours (docs/static.md). It is not part of the platform
and needs JAX, which the platform does not; set-up, on one CPU thread:

    python3.11 -m venv /tmp/jaxenv
    /tmp/jaxenv/bin/pip install "jax[cpu]==0.5.2" jaxlib==0.5.1 flax==0.10.4 optax==0.2.5 matplotlib scipy
    git clone https://github.com/MJSteynberg/HYCO-Code /tmp/HYCO-Code
    export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" JAX_PLATFORMS=cpu
    /tmp/jaxenv/bin/python experiments/external/authors_helmholtz_draws.py \
        --authors-src /tmp/HYCO-Code/StaticHYCO/src --train_seed 6        # the published draw

(newer flax releases fail on the authors' code: 0.10.7 in ``nnx.jit`` under ``vmap``, 0.11 in
``nnx.Optimizer`` without ``wrt``, 0.12 on the list of submodules of ``ResNetSynthetic``.)

Random keys in the authors' code (``tools/training.py``, ``helmholtz.py``):
  * ``config.train_seed`` -> the data points, theta0 (``main()``) and the ghost-point key
    (``HybridTrainer.train``: ``rng = PRNGKey(config.train_seed)``);
  * ``config.seed`` -> read nowhere;
  * the network init -> hard-coded ``nnx.Rngs(0)`` in ``HybridTrainer.create_models``.

``--train_seed T`` sets the three uses of the authors' key; ``--data_seed``, ``--theta0_seed`` and
``--ghost_seed`` override one use each, ``--net_seed`` the network's init. One JSON line per run
(``--json_out``): theta0, the final theta, parameter errors, relative L2 on the authors' 50 x 50 grid.
"""

import argparse
import time

from draws_output import draw_parser, emit, parse_draw_args  # this folder's shared helpers (on sys.path)


def parse_args() -> argparse.Namespace:
    p = draw_parser(__doc__, "StaticHYCO/src")
    p.add_argument("--train_seed", type=int, default=6, help="the authors' one key (default 6: the published run)")
    p.add_argument("--seed", type=int, default=5, help="config.seed (5 as published; read nowhere)")
    p.add_argument("--net_seed", type=int, default=0, help="the network's init key (0: the authors' Rngs(0))")
    p.add_argument("--data_seed", type=int, default=None)
    p.add_argument("--theta0_seed", type=int, default=None)
    p.add_argument("--ghost_seed", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None, help="fewer epochs (a smoke test only)")
    return parse_draw_args(p)


def main() -> None:
    args = parse_args()
    json_out = args.json_out
    data_seed = args.train_seed if args.data_seed is None else args.data_seed
    theta0_seed = args.train_seed if args.theta0_seed is None else args.theta0_seed
    ghost_seed = args.train_seed if args.ghost_seed is None else args.ghost_seed

    import helmholtz as H  # the authors' module (it changes directory to StaticHYCO/)
    import jax
    import jax.numpy as jnp
    import models.synthetic_model as SM
    import numpy as np
    from flax import nnx
    from tools.training import FEMTrainer, HybridTrainer, compute_param_error

    print("jax", jax.__version__, "x64:", jax.config.jax_enable_x64, "devices:", jax.devices())
    if args.net_seed != 0:
        original = SM.ResNetSynthetic

        class SeededResNet(original):
            def __init__(self, *a, rngs=None, **kw):
                super().__init__(*a, rngs=nnx.Rngs(args.net_seed), **kw)

        SM.ResNetSynthetic = SeededResNet  # create_models imports it from this module at call time

    config = H.HelmholtzConfig()
    config.seed = args.seed
    config.train_seed = data_seed
    if args.epochs is not None:
        config.epochs = args.epochs
    data_generator = H.DataGenerator(config)

    true_params = jnp.array([4.0, -1.0, -1.0, 1.0, 2.0, 1.0])
    xx_eval, yy_eval = data_generator.generate_evaluation_grid()
    true_model = data_generator.generate_true_solution(true_params, u_exact=H.u_true)
    u_true = jax.vmap(lambda x, y: true_model(x, y))(xx_eval, yy_eval).reshape(-1, 1)

    # theta0 exactly as in their main(), from theta0_seed
    rng1, rng2, rng3 = jax.random.split(jax.random.PRNGKey(theta0_seed), 3)
    amplitudes = jax.random.uniform(rng1, shape=(2,), minval=1, maxval=3)
    centers_x = jax.random.uniform(rng2, shape=(2,), minval=0, maxval=1)
    centers_y = jax.random.uniform(rng3, shape=(2,), minval=0, maxval=1)
    initial = nnx.Param(jnp.array([amplitudes[0], centers_x[0], centers_y[0],
                                   amplitudes[1], centers_x[1], centers_y[1]]))
    theta0 = np.asarray(initial.value).tolist()

    xx_train, yy_train, u_train = data_generator.generate_training_data(true_model, noise_level=0.0)
    print("keys: data", data_seed, "theta0", theta0_seed, "ghost", ghost_seed, "net", args.net_seed)
    print("theta0", theta0)

    def forcing(x, y):
        return H.forcing_function(true_params, x, y, config.domain_size)

    config.train_seed = ghost_seed  # HybridTrainer.train draws its ghost points from config.train_seed
    start = time.time()
    hybrid = HybridTrainer(config, syn_phase1_threshold=1e-1)
    phys_loss, syn_loss, _, _, param_hist, u_phys, u_syn = hybrid.train(
        xx_train, yy_train, u_train, xx_eval, yy_eval, u_true, (1.0, 1.0), true_params,
        initial_params_value=initial, forcing_func=forcing, kappa_func=H.kappa, eta_func=H.eta)
    result = dict(data_seed=data_seed, theta0_seed=theta0_seed, ghost_seed=ghost_seed, net_seed=args.net_seed,
                  epochs=config.epochs, theta0=theta0, hyco_theta=np.asarray(param_hist[-1]).tolist(),
                  hyco_param_err=float(compute_param_error(param_hist[-1], true_params)),
                  hyco_phys_relL2=float(hybrid.compute_l2_error(u_phys, u_true)),
                  hyco_syn_relL2=float(hybrid.compute_l2_error(u_syn, u_true)),
                  hyco_phys_loss_final=float(phys_loss[-1]), hyco_syn_loss_final=float(syn_loss[-1]),
                  hyco_wall_s=time.time() - start)
    if not args.no_fem:
        config.train_seed = data_seed
        start = time.time()
        fem = FEMTrainer(config)
        fem_loss, _, fem_hist, u_fem = fem.train(
            xx_train, yy_train, u_train, xx_eval, yy_eval, u_true, true_params, initial_params_value=initial,
            forcing_func=forcing, kappa_func=H.kappa, eta_func=H.eta)
        result.update(fem_theta=np.asarray(fem_hist[-1]).tolist(),
                      fem_param_err=float(compute_param_error(fem_hist[-1], true_params)),
                      fem_relL2=float(fem.compute_l2_error(u_fem, u_true)), fem_loss_final=float(fem_loss[-1]),
                      fem_wall_s=time.time() - start)
    emit(result, json_out)


if __name__ == "__main__":
    main()
