"""Write the small stored fits that the comparison and plot tests read instead of sampling.

Run from the repository root after a change that alters what ``fit`` stores, once on each
stack (Python 3.11 with PyMC 5 writes ``STORED``; Python >= 3.12 with PyMC 6 writes
``WRITTEN_ON_PYMC6``, which ``test_io`` reads back on both stacks):

    python tests/data/make_fits.py
    bash ci/current-stack.sh . "python tests/data/make_fits.py" && \
        cp /var/tmp/hiermodel-trixie/src/hiermodel/tests/data/pymc6/*.nc tests/data/pymc6/

Each file is a real NUTS fit (nutpie), saved with ``hm.save``; ``STORED`` records how.
"""

from __future__ import annotations

import warnings
from pathlib import Path

HERE = Path(__file__).parent

#: file stem -> (dataset, fit keyword arguments)
STORED = {
    # Rubin's Eight Schools, the default fit (marginal, data-scaled priors, 4 x 1000)
    "eight_schools_marginal": ("eight_schools", {"seed": 20261125}),
    # eight_schools_summary (summary form, n_i and sigma = 15), marginal
    "summary_marginal": ("eight_schools_summary",
                         {"draws": 500, "tune": 500, "chains": 4, "seed": 5}),
    # theta sampled: centered at target_accept 0.8 diverges (the funnel), non-centered does not
    "eight_schools_centered": ("eight_schools",
                               {"parameterization": "centered", "draws": 500, "tune": 500,
                                "chains": 2, "seed": 2, "target_accept": 0.8}),
    "eight_schools_noncentered": ("eight_schools",
                                  {"parameterization": "noncentered", "draws": 500,
                                   "tune": 500, "chains": 2, "seed": 2}),
}

#: written on PyMC 6 / ArviZ 1 (an ``xarray.DataTree``), read on both stacks: a file saved on
#: the current stack loads on Python 3.11 (the other direction is ``STORED`` read on 3.13)
WRITTEN_ON_PYMC6 = {
    "pymc6/eight_schools_marginal": ("eight_schools",
                                     {"draws": 500, "tune": 500, "chains": 4, "seed": 6}),
}


def main() -> None:
    import pymc

    import hiermodel as hm

    on_pymc6 = int(pymc.__version__.split(".")[0]) >= 6
    for stem, (dataset, kwargs) in (WRITTEN_ON_PYMC6 if on_pymc6 else STORED).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", hm.SamplingWarning)
            idata = hm.fit(getattr(hm, dataset)(), progressbar=False, **kwargs)
        path = hm.save(idata, HERE / f"{stem}.nc")
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
