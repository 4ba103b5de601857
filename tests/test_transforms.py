"""transforms: the table of named back-transforms and the one check every `transform=` uses."""

from __future__ import annotations

import numpy as np
import pytest

from hiermodel import HierData, meta_analysis
from hiermodel.transforms import IDENTITY, TRANSFORMS, check_transform

X = np.array([-40.0, -3.0, -0.5, 0.0, 1e-9, 0.7, 2.0, 40.0])


def test_table_names_scales_and_closed_forms():
    assert list(TRANSFORMS) == ["identity", "exp", "expit", "tanh"]
    assert TRANSFORMS["exp"].scale == "ratio scale (exp of log ratio)"
    assert "proportion" in TRANSFORMS["expit"].scale
    assert "correlation" in TRANSFORMS["tanh"].scale
    np.testing.assert_array_equal(TRANSFORMS["identity"](X), X)
    np.testing.assert_allclose(TRANSFORMS["exp"](X), np.e ** X, rtol=1e-14)
    # expit = 1 / (1 + e^-x), the inverse of the logit log(p / (1 - p))
    p = TRANSFORMS["expit"](X)
    np.testing.assert_allclose(p, 1.0 / (1.0 + np.e ** -X), rtol=1e-14)
    inner = p[1:-1]
    np.testing.assert_allclose(np.log(inner / (1 - inner)), X[1:-1], atol=1e-12)
    # tanh = (e^2z - 1) / (e^2z + 1), the inverse of Fisher's z = atanh(r)
    r = TRANSFORMS["tanh"](X)
    mid = np.abs(X) < 20
    np.testing.assert_allclose(r[mid], np.expm1(2 * X[mid]) / (np.e ** (2 * X[mid]) + 1),
                               rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(0.5 * np.log((1 + r[mid]) / (1 - r[mid])), X[mid], atol=1e-12)
    assert TRANSFORMS["expit"](0.0) == 0.5 and isinstance(TRANSFORMS["tanh"](0.0), float)


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_every_transform_is_increasing(name):
    """Intervals map end to end and quantiles carry over only for increasing maps."""
    grid = np.linspace(-15, 15, 3001)
    assert np.all(np.diff(TRANSFORMS[name](grid)) > 0)


def test_check_transform_resolves_names_and_refuses_the_rest():
    assert check_transform(None) is IDENTITY and check_transform(" EXP ") is TRANSFORMS["exp"]
    with pytest.raises(ValueError, match=r"`transform` must be one of 'identity', 'exp', "
                                         r"'expit', 'tanh' or None, got 'log'"):
        check_transform("log")
    with pytest.raises(TypeError, match=r"`transform`.*name.*pass transform='exp'"):
        check_transform(np.exp)
    with pytest.raises(TypeError, match="`transform`"):
        check_transform(2)


def test_meta_analysis_predict_refuses_an_unknown_transform():
    data = HierData.from_estimates([0.1, 0.3, -0.2], [0.1, 0.2, 0.15])
    with pytest.raises(ValueError, match="`transform`.*'exp', 'expit', 'tanh'"):
        meta_analysis(data).predict(transform="logit")
