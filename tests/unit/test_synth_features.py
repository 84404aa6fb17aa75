"""Input/output features of tests (category partition for reduction)."""

from __future__ import annotations

from codeeval.synth.features import features_of, value_features


def test_scalars():
    assert {"type=int", "sign=neg", "mag=<=10", "parity=odd"} <= value_features(-3)
    assert "bool=True" in value_features(True)
    assert "sign=neg" not in value_features(True)
    assert {"float=fraction", "float=tiny"} <= value_features(1e-9)
    assert "float=special" in value_features(float("nan"))
    assert value_features(2**40) >= {"mag=huge"}


def test_strings():
    f = value_features("Ab 1!")
    assert {"has=lower", "has=upper", "has=space", "has=digit", "has=punct",
            "len=2-5"} <= f
    assert "palindrome" in value_features("abba")
    assert "len=0" in value_features("")


def test_collections():
    f = value_features([3, 1, 1])
    assert {"len=2-5", "duplicates", "item:type=int", "item:sign=pos"} <= f
    assert "sorted" in value_features([1, 2, 3])
    assert "sorted-desc" in value_features((3, 2))
    assert "unorderable" in value_features([1, "a"])
    assert {"item:type=bool", "item:type=NoneType"} <= value_features([True, None])
    assert "key:type=str" in value_features({"a": 1})


def test_test_features_name_arguments_and_answer():
    f = features_of(([1, -2], "x"), False)
    assert {"in0:item:sign=neg", "in1:type=str", "out:bool=False"} <= f
