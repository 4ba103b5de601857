"""Shared, session-scoped fits: each model structure is compiled once for the whole run."""

from __future__ import annotations

import os
import warnings

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("CI", "true")  # progress bars off in tests


@pytest.fixture(scope="session")
def es_fit():
    """Default fit of Rubin's Eight Schools (nutpie, marginal, 4 x 1000)."""
    from hiermodel import eight_schools
    from hiermodel.fit import fit

    return fit(eight_schools(), seed=20261125)


@pytest.fixture(scope="session")
def seed_fits():
    """Centered and non-centered fits of the seed's table 4.1 (well-measured groups)."""
    from hiermodel import seed_eight_schools
    from hiermodel.fit import fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {p: fit(seed_eight_schools(), parameterization=p, seed=11)
                for p in ("centered", "noncentered")}
