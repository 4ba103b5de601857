"""The numba functions behind :mod:`hiermodel.fastpath`: the log density and gradient of the
marginal form and of the full form (theta sampled, with per-group centering weights: the
centered, non-centered and "auto" forms), and their expansions to posterior values (imported
on first use: numba is imported only when the fast path samples).  Every function is
compiled with ``cache=True``: numba keeps the machine code on disk and a later process loads
it instead of compiling."""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types

from .prior_families import SIGMA_FAMILIES, TAU_FAMILIES

# ----------------------------------------------------------------------------- data layout
# One float64 vector carries everything the density reads: a header, then the arrays.
# N_COEF: the regression coefficients the density has -- the marginal form's (mu, beta), the
# full form's beta (mu is sampled on its own there).  FORM: MARGINAL or FULL.
N_GROUPS, N_COEF, MU_FAMILY, TAU_FAMILY, SIGMA_FAMILY = 0, 1, 2, 3, 4
MU_LOC, MU_SCALE, TAU_SCALE, SIGMA_SCALE, N_DIM, SIZE, FORM = 5, 6, 7, 8, 9, 10, 11
HEADER = 12
MARGINAL, FULL = 0, 1
MU_CODES = {"normal": 0, "flat": 1}
# the families' codes (hiermodel.prior_families): tau 0 Half-Cauchy, 1 Half-Normal, 2 Uniform;
# sigma 0 known, 1 Half-Normal, 2 Half-Cauchy
TAU_CODES = {f.name: f.code for f in TAU_FAMILIES.values() if f.code is not None}
SIGMA_CODES = {f.name: f.code for f in SIGMA_FAMILIES.values() if f.code is not None}
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2_OVER_PI = math.log(2.0 / math.pi)


def _jit(fn):
    """``numba.njit(cache=True)``; compiled in memory when no cache location is writable
    (numba raises at decoration then: "no locator available")."""
    try:
        return numba.njit(cache=True, error_model="numpy")(fn)
    except RuntimeError:
        return numba.njit(error_model="numpy")(fn)


def _cfunc(signature):
    """``numba.cfunc(signature, cache=True)``, with the same fallback as :func:`_jit`."""
    def wrap(fn):
        try:
            return numba.cfunc(signature, cache=True, error_model="numpy")(fn)
        except RuntimeError:
            return numba.cfunc(signature, error_model="numpy")(fn)
    return wrap


@_jit
def _softplus(x):
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


@_jit
def _tau_term(u, family, scale):
    """``(tau, dtau/du, log prior + log Jacobian, its derivative in u)``."""
    if family == 2:                                  # Uniform(0, s), interval transform
        s = 1.0 / (1.0 + math.exp(-u))
        # -log s (prior) + log s + log sigmoid(u) + log(1 - sigmoid(u)) (Jacobian)
        return scale * s, scale * s * (1.0 - s), -u - 2.0 * _softplus(-u), 1.0 - 2.0 * s
    tau = math.exp(u)
    if family == 0:                                  # Half-Cauchy(s)
        z = tau / scale
        lp = math.log(2.0 / (math.pi * scale)) - math.log1p(z * z)
        d = -2.0 * tau / (scale * scale + tau * tau)
    else:                                            # Half-Normal(s)
        z = tau / scale
        lp = 0.5 * _LOG_2_OVER_PI - math.log(scale) - 0.5 * z * z
        d = -tau / (scale * scale)
    return tau, tau, lp + u, d * tau + 1.0


@_jit
def _tau_value(u, family, scale):
    """tau at its unconstrained value ``u``."""
    if family == 2:
        return scale / (1.0 + math.exp(-u))
    return math.exp(u)


@_jit
def _normal(value, loc, scale):
    """``(log N(value | loc, scale^2), its derivative in value)``."""
    z = (value - loc) / scale
    return -_HALF_LOG_2PI - math.log(scale) - 0.5 * z * z, -z / scale


@_jit
def _mu_prior(mu, buf):
    """``(log prior, d/dmu)`` of mu: Normal(MU_LOC, MU_SCALE), or flat (0, 0)."""
    if int(buf[MU_FAMILY]) == 0:
        return _normal(mu, buf[MU_LOC], buf[MU_SCALE])
    return 0.0, 0.0


@_jit
def _sigma_prior(sigma, family, scale):
    """``(log prior, d/dsigma)`` of sigma (Half-Normal or Half-Cauchy)."""
    z = sigma / scale
    if family == 1:
        return 0.5 * _LOG_2_OVER_PI - math.log(scale) - 0.5 * z * z, -sigma / (scale * scale)
    return (math.log(2.0 / (math.pi * scale)) - math.log1p(z * z),
            -2.0 * sigma / (scale * scale + sigma * sigma))


@_jit
def _ss_term(sigma, n, ss):
    """``sum_i log Gamma(ss_i | (n_i-1)/2, rate 1/(2 sigma^2))`` over groups with n_i > 1,
    and its derivative in sigma."""
    lp = 0.0
    d = 0.0
    rate = 1.0 / (2.0 * sigma * sigma)
    log_rate = math.log(rate)
    for i in range(n.size):
        a = 0.5 * (n[i] - 1.0)
        if a > 0:
            lp += a * log_rate - math.lgamma(a) + (a - 1.0) * math.log(ss[i]) - rate * ss[i]
            d += -2.0 * a / sigma + ss[i] / (sigma * sigma * sigma)
    return lp, d


@_jit
def _normal_marginal(mu, var, y, dvar):
    """``sum_i log N(y_i | mu, var_i)``; writes d/dvar_i into ``dvar``, returns (lp, d/dmu)."""
    lp = 0.0
    dmu = 0.0
    for i in range(y.size):
        r = y[i] - mu
        lp += -_HALF_LOG_2PI - 0.5 * math.log(var[i]) - 0.5 * r * r / var[i]
        dmu += r / var[i]
        dvar[i] = -0.5 / var[i] + 0.5 * r * r / (var[i] * var[i])
    return lp, dmu


@_jit
def _collapsed_marginal(var, y, design, b0, p0, dvar):
    """``log p(y | v)`` with the coefficients ``b ~ N(b0, diag(p0)^-1)`` integrated out
    (``y_i ~ N(x_i' b, v_i)``); writes d/dvar_i into ``dvar``.  ``A`` is factored by an
    explicit Cholesky loop (q = number of coefficients is small)."""
    g = y.size
    q = b0.size
    a = np.zeros((q, q))
    rhs = np.zeros(q)
    lp = -g * _HALF_LOG_2PI
    quad = 0.0
    for i in range(g):
        w = 1.0 / var[i]
        lp += 0.5 * math.log(w)
        quad += w * y[i] * y[i]
        for j in range(q):
            rhs[j] += design[i, j] * w * y[i]
            for k in range(q):
                a[j, k] += design[i, j] * w * design[i, k]
    for j in range(q):
        a[j, j] += p0[j]
        rhs[j] += p0[j] * b0[j]
        quad += p0[j] * b0[j] * b0[j]
        if p0[j] > 0:
            lp += 0.5 * math.log(p0[j])
    low = np.zeros((q, q))
    z = np.zeros(q)
    for j in range(q):
        s = a[j, j]
        for k in range(j):
            s -= low[j, k] * low[j, k]
        low[j, j] = math.sqrt(s)
        for i in range(j + 1, q):
            s = a[i, j]
            for k in range(j):
                s -= low[i, k] * low[j, k]
            low[i, j] = s / low[j, j]
        s = rhs[j]
        for k in range(j):
            s -= low[j, k] * z[k]
        z[j] = s / low[j, j]
        lp -= math.log(low[j, j])
        quad -= z[j] * z[j]
    lp -= 0.5 * quad
    # b_hat = L'^-1 z; h_i = |L^-1 x_i|^2
    b_hat = np.zeros(q)
    for j in range(q - 1, -1, -1):
        s = z[j]
        for k in range(j + 1, q):
            s -= low[k, j] * b_hat[k]
        b_hat[j] = s / low[j, j]
    t = np.zeros(q)
    for i in range(g):
        h = 0.0
        r = y[i]
        for j in range(q):
            r -= design[i, j] * b_hat[j]
            s = design[i, j]
            for k in range(j):
                s -= low[j, k] * t[k]
            t[j] = s / low[j, j]
            h += t[j] * t[j]
        w = 1.0 / var[i]
        dvar[i] = -w * w * (0.5 / w - 0.5 * h - 0.5 * r * r)
    return lp


@_jit
def marginal_log_density(x, buf, grad):
    """The marginal model's log density at the unconstrained point ``x`` (PyMC's value
    variables, in :func:`unconstrained_names`' order); writes the gradient into ``grad``."""
    g = int(buf[N_GROUPS])
    coef = int(buf[N_COEF])
    sigma_family = int(buf[SIGMA_FAMILY])
    y = buf[HEADER:HEADER + g]
    at = HEADER + g
    k = 0
    lp = 0.0
    mu = 0.0
    dmu = 0.0
    if coef == 0:
        mu = x[0]
        k = 1
        lp, dmu = _mu_prior(mu, buf)
    tau, dtau, lp_tau, grad_tau = _tau_term(x[k], int(buf[TAU_FAMILY]), buf[TAU_SCALE])
    lp += lp_tau
    var = np.empty(g)
    dvar = np.empty(g)
    sigma = 0.0
    dsigma = 0.0
    if sigma_family == 0:
        se2 = buf[at:at + g]
        at += g
        for i in range(g):
            var[i] = tau * tau + se2[i]
    else:
        n = buf[at:at + g]
        ss = buf[at + g:at + 2 * g]
        at += 2 * g
        sigma = math.exp(x[k + 1])
        lp_sigma, dsigma = _sigma_prior(sigma, sigma_family, buf[SIGMA_SCALE])
        lp_ss, dss = _ss_term(sigma, n, ss)
        lp += lp_sigma + lp_ss + x[k + 1]
        dsigma += dss
        for i in range(g):
            var[i] = tau * tau + sigma * sigma / n[i]
    if coef == 0:
        lp_y, dmu_y = _normal_marginal(mu, var, y, dvar)
        grad[0] = dmu + dmu_y
    else:
        design = buf[at:at + g * coef].reshape((g, coef))
        at += g * coef
        lp_y = _collapsed_marginal(var, y, design, buf[at:at + coef],
                                   buf[at + coef:at + 2 * coef], dvar)
    lp += lp_y
    dtau_total = 0.0
    for i in range(g):
        dtau_total += dvar[i] * 2.0 * tau
    grad[k] = grad_tau + dtau_total * dtau
    if sigma_family != 0:
        for i in range(g):
            dsigma += dvar[i] * 2.0 * sigma / n[i]
        grad[k + 1] = dsigma * sigma + 1.0
    return lp


@_jit
def marginal_expand(x, buf, out):
    """The marginal form's posterior values at ``x``: the value variables, then tau (and
    sigma)."""
    nd = int(buf[N_DIM])
    k = 0 if int(buf[N_COEF]) > 0 else 1
    for j in range(nd):
        out[j] = x[j]
    out[nd] = _tau_value(x[k], int(buf[TAU_FAMILY]), buf[TAU_SCALE])
    if int(buf[SIGMA_FAMILY]) != 0:
        out[nd + 1] = math.exp(x[k + 1])


@_jit
def full_log_density(x, buf, grad):
    """The full form's log density at the unconstrained point ``x`` -- ``mu``, tau's value,
    ``beta`` (p), ``theta_tilde`` (G), then ``sigma_log__`` if sigma is unknown -- with
    ``m_i = mu + x_i' beta``, ``theta_tilde_i ~ N(c_i m_i, tau^c_i)``, ``theta_i = m_i +
    tau^(1 - c_i) (theta_tilde_i - c_i m_i)`` and ``ybar_i ~ N(theta_i, se_i^2)``; writes the
    gradient into ``grad``.  With ``e_i = (theta_tilde_i - c_i m_i) / tau^c_i``,
    ``theta_i = m_i + tau e_i``."""
    g = int(buf[N_GROUPS])
    p = int(buf[N_COEF])
    sigma_family = int(buf[SIGMA_FAMILY])
    y = buf[HEADER:HEADER + g]
    at = HEADER + g
    mu = x[0]
    lp, dmu = _mu_prior(mu, buf)
    tau, dtau_du, lp_tau, grad_tau = _tau_term(x[1], int(buf[TAU_FAMILY]), buf[TAU_SCALE])
    lp += lp_tau
    log_tau = math.log(tau)
    tt = x[2 + p:2 + p + g]
    sigma = 0.0
    dsigma = 0.0
    known = sigma_family == 0
    se2_or_n = buf[at:at + g]                            # se_i^2 (sigma known), else n_i
    if known:
        at += g
    else:
        ss = buf[at + g:at + 2 * g]
        at += 2 * g
        sigma = math.exp(x[2 + p + g])
        lp_sigma, dsigma = _sigma_prior(sigma, sigma_family, buf[SIGMA_SCALE])
        lp_ss, dss = _ss_term(sigma, se2_or_n, ss)
        lp += lp_sigma + lp_ss + x[2 + p + g]
        dsigma += dss
    c = buf[at:at + g]
    at += g
    design = buf[at:at + g * p].reshape((g, p))
    at += g * p
    beta_loc = buf[at:at + p]
    beta_scale = buf[at + p:at + 2 * p]
    for j in range(p):
        lp_beta, d_beta = _normal(x[2 + j], beta_loc[j], beta_scale[j])
        lp += lp_beta
        grad[2 + j] = d_beta
    dtau = 0.0
    for i in range(g):
        m = mu
        for j in range(p):
            m += design[i, j] * x[2 + j]
        ci = c[i]
        a = tau ** ci
        b = tau ** (1.0 - ci)
        e = (tt[i] - ci * m) / a
        theta = m + b * (tt[i] - ci * m)
        lp += -_HALF_LOG_2PI - ci * log_tau - 0.5 * e * e
        v = se2_or_n[i] if known else sigma * sigma / se2_or_n[i]
        r = y[i] - theta
        lp += -_HALF_LOG_2PI - 0.5 * math.log(v) - 0.5 * r * r / v
        dtheta = r / v
        grad[2 + p + i] = -e / a + dtheta * b
        dm = ci * e / a + dtheta * (1.0 - b * ci)
        dmu += dm
        for j in range(p):
            grad[2 + j] += dm * design[i, j]
        dtau += ci * (e * e - 1.0) / tau + dtheta * (1.0 - ci) * e
        if not known:
            dsigma += (-0.5 / v + 0.5 * r * r / (v * v)) * 2.0 * sigma / se2_or_n[i]
    grad[0] = dmu
    grad[1] = grad_tau + dtau * dtau_du
    if not known:
        grad[2 + p + g] = dsigma * sigma + 1.0
    return lp


@_jit
def full_expand(x, buf, out):
    """The full form's posterior values at ``x``: the value variables, then tau, sigma (if
    unknown), ``intercept = mu - xbar' beta`` (with covariates) and theta -- PyMC's order
    (value variables, their constrained values, the Deterministics)."""
    g = int(buf[N_GROUPS])
    p = int(buf[N_COEF])
    sigma_family = int(buf[SIGMA_FAMILY])
    nd = int(buf[N_DIM])
    for j in range(nd):
        out[j] = x[j]
    k = nd
    mu = x[0]
    tau = _tau_value(x[1], int(buf[TAU_FAMILY]), buf[TAU_SCALE])
    out[k] = tau
    k += 1
    at = HEADER + g + (g if sigma_family == 0 else 2 * g)
    if sigma_family != 0:
        out[k] = math.exp(x[2 + p + g])
        k += 1
    c = buf[at:at + g]
    at += g
    design = buf[at:at + g * p].reshape((g, p))
    x_mean = buf[at + g * p + 2 * p:at + g * p + 3 * p]
    if p > 0:
        intercept = mu
        for j in range(p):
            intercept -= x_mean[j] * x[2 + j]
        out[k] = intercept
        k += 1
    for i in range(g):
        m = mu
        for j in range(p):
            m += design[i, j] * x[2 + j]
        out[k + i] = m + tau ** (1.0 - c[i]) * (x[2 + p + i] - c[i] * m)


@_jit
def log_density(x, buf, grad):
    """The log density of the form ``buf`` holds (:data:`FORM`) at ``x``; writes the
    gradient into ``grad``."""
    if int(buf[FORM]) == FULL:
        return full_log_density(x, buf, grad)
    return marginal_log_density(x, buf, grad)


@_jit
def expand(x, buf, out):
    """The posterior values at ``x`` of the form ``buf`` holds."""
    if int(buf[FORM]) == FULL:
        full_expand(x, buf, out)
    else:
        marginal_expand(x, buf, out)


_POINTER = types.CPointer(types.double)


@_cfunc(types.int64(types.uint64, _POINTER, _POINTER, _POINTER, _POINTER))
def logp_cfunc(dim, x_, grad_, logp_, buf_):
    """nutpie's C signature of a log density: ``(dim, x, grad out, logp out, user data)``,
    0 on success, positive for a point to reject (a divergence), negative for an error."""
    head = numba.carray(buf_, (HEADER,))
    if dim != int(head[N_DIM]):
        return -1
    buf = numba.carray(buf_, (int(head[SIZE]),))
    x = numba.carray(x_, (dim,))
    grad = numba.carray(grad_, (dim,))
    lp = log_density(x, buf, grad)
    logp_[0] = lp
    for j in range(dim):
        if not math.isfinite(grad[j]):
            return 3
    if not math.isfinite(lp):
        return 4
    return 0


@_cfunc(types.int64(types.uint64, types.uint64, _POINTER, _POINTER, _POINTER))
def expand_cfunc(dim, n_expanded, x_, out_, buf_):
    """nutpie's C signature of the expansion to posterior values: ``(dim, n_expanded, x,
    out, user data)``."""
    head = numba.carray(buf_, (HEADER,))
    if dim != int(head[N_DIM]):
        return -1
    buf = numba.carray(buf_, (int(head[SIZE]),))
    expand(numba.carray(x_, (dim,)), buf, numba.carray(out_, (n_expanded,)))
    return 0
