"""Large results travel as digests: equal values give equal digests whatever their build
order, values compared with a tolerance never do, and a digest matches only a digest.

The driver's functions are tested here directly (it imports nothing from codeeval);
the end-to-end path runs in tests/harness/test_program.py.
"""

from __future__ import annotations

import importlib.util
import json
from types import ModuleType

import pytest

from codeeval.grading.compare import outputs_match
from codeeval.harness.values import Digest, ProtocolError, decode, encode

OVER = 4096


def _driver() -> ModuleType:
    spec = importlib.util.find_spec("codeeval.harness.pydriver")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DRIVER = _driver()


def wire(value: object) -> object:
    """What the host decodes from the driver's result for ``value``."""
    sent = DRIVER.digested(value, DRIVER.encode(value), OVER)
    return decode(json.loads(DRIVER.dumps(sent)))


def test_small_results_travel_whole() -> None:
    assert wire(list(range(10))) == list(range(10))
    assert wire("x" * (OVER - 10)) == "x" * (OVER - 10)


def test_large_results_travel_as_digests_equal_for_equal_values() -> None:
    a = wire(list(range(5000)))
    b = wire(list(range(5000)))
    c = wire([*range(4999), -1])
    assert isinstance(a, Digest)
    assert isinstance(c, Digest)
    assert a == b
    assert a != c
    assert outputs_match(a, b)
    assert not outputs_match(a, c)


def test_sets_and_dicts_built_in_any_order_digest_alike() -> None:
    items = [f"k{i}" for i in range(3000)]
    s1, s2 = set(items), set(reversed(items))
    d1 = {k: i for i, k in enumerate(items)}
    d2 = {k: d1[k] for k in reversed(items)}
    assert list(d1) != list(d2)
    assert wire(s1) == wire(s2)
    assert wire(d1) == wire(d2)
    assert wire([s1, d1] * 3) == wire([s2, d2] * 3)


def test_types_still_count_inside_a_digest() -> None:
    assert wire(list(range(5000))) != wire([float(i) for i in range(5000)])
    assert wire(tuple(range(5000))) != wire(list(range(5000)))


def test_lists_of_floats_are_never_digested() -> None:
    # The host compares them with a tolerance, which a digest cannot do.
    value = [i / 3 for i in range(5000)]
    assert wire(value) == value


def test_a_digest_matches_only_a_digest() -> None:
    d = Digest("ab" * 32, 10)
    assert not outputs_match(d, [1, 2])
    assert not outputs_match([1, 2], d)
    assert outputs_match(d, Digest("ab" * 32, 10))
    assert decode(json.loads(json.dumps(encode(d)))) == d


@pytest.mark.parametrize("bad", [{"$digest": "short", "size": 1}, {"$digest": "a" * 64},
                                 {"$digest": "a" * 64, "size": True}])
def test_malformed_digests_are_protocol_errors(bad: object) -> None:
    with pytest.raises(ProtocolError):
        decode(bad)
