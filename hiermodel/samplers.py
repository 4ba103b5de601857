"""The NUTS backends :func:`hiermodel.fit` runs and the settings each accepts.

Data only (no PyMC, nutpie or JAX at import), so that the command line can offer the
choices without loading a sampler; :mod:`hiermodel.sampling` runs the backends.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["Sampler", "SAMPLERS", "SAMPLER_KWARGS", "NUMPYRO_KERNEL"]

Sampler = Literal["nutpie", "pymc", "numpyro"]
#: the backends, the default first
SAMPLERS: tuple[str, ...] = get_args(Sampler)

#: numpyro.infer.NUTS's own arguments (the rest go to sample_jax_nuts)
NUMPYRO_KERNEL = frozenset({"max_treedepth", "step_size", "adapt_step_size",
                             "adapt_mass_matrix", "dense_mass", "find_heuristic_step_size",
                             "regularize_mass_matrix", "forward_mode_differentiation"})

#: the sampler settings ``fit(sampler_kwargs=...)`` passes on, per backend.  The tree depth
#: is ``max_treedepth`` for all three (PyMC's name; nutpie calls it ``maxdepth``, NumPyro
#: ``max_tree_depth``).
SAMPLER_KWARGS = {
    # nutpie.sample and its sampler settings (nutpie's docstring: "**kwargs: Pass additional
    # arguments to nutpie._lib.PySamplerArgs")
    "nutpie": frozenset({
        "max_treedepth", "mindepth", "max_energy_error", "initial_step", "check_turning",
        "mass_matrix_eigval_cutoff", "mass_matrix_gamma", "mass_matrix_switch_freq",
        "early_window_switch_freq", "window_switch_freq", "store_divergences",
        "store_unconstrained", "store_gradient", "store_mass_matrix"}),
    # pymc.NUTS (max_treedepth, early_max_treedepth) and its step-size adaptation, and
    # pymc.sample's initialisation
    "pymc": frozenset({
        "max_treedepth", "early_max_treedepth", "step_scale", "Emax", "adapt_step_size",
        "gamma", "k", "t0", "init", "n_init", "jitter_max_retries", "initvals", "blas_cores"}),
    # numpyro.infer.NUTS, and pymc.sampling.jax.sample_jax_nuts
    "numpyro": NUMPYRO_KERNEL | {"chain_method", "jitter", "postprocessing_backend"},
}
