"""The package-wide options (the interval convention): one place, thread-safe, checked."""

from __future__ import annotations

import threading

import pytest

import hiermodel as hm
from hiermodel.options import resolve_interval


def test_default_interval_is_95_percent_central():
    assert hm.get_options() == hm.options.Options(interval="eti", prob=0.95)
    assert resolve_interval() == ("eti", 0.95)
    assert resolve_interval("hdi", 0.5) == ("hdi", 0.5)


def test_option_context_is_local_to_the_block_and_the_thread():
    seen = []
    with hm.option_context(prob=0.8, interval="hdi"):
        assert resolve_interval() == ("hdi", 0.8)
        t = threading.Thread(target=lambda: seen.append(resolve_interval()))
        t.start()
        t.join()
    assert seen == [("eti", 0.95)]
    assert resolve_interval() == ("eti", 0.95)


def test_set_options_changes_every_thread():
    try:
        hm.set_options(prob=0.9)
        seen = []
        t = threading.Thread(target=lambda: seen.append(resolve_interval()))
        t.start()
        t.join()
        assert seen == [("eti", 0.9)]
    finally:
        hm.set_options(prob=0.95)
    assert resolve_interval() == ("eti", 0.95)


@pytest.mark.parametrize("bad, error, words", [
    ({"prob": 1.2}, ValueError, "`prob` must be a number strictly between 0 and 1"),
    ({"prob": True}, ValueError, "`prob`"),
    ({"interval": "central"}, ValueError, "`interval` must be one of ['eti', 'hdi']"),
    ({"level": 0.9}, TypeError, "Unknown option(s) ['level']"),
])
def test_bad_options_are_refused_by_name(bad, error, words):
    with pytest.raises(error) as err:
        hm.set_options(**bad)
    assert words in str(err.value)
    with pytest.raises(error):
        with hm.option_context(**bad):
            pass
    assert resolve_interval() == ("eti", 0.95)
