"""The built-in output checkers: None accepts, otherwise a reason naming the difference."""

from __future__ import annotations

import pytest

from codeeval.grading.checkers import CHECKERS, exact, floats, lines, tokens


def test_registry_names_every_builtin_checker() -> None:
    assert {"exact": exact, "lines": lines, "tokens": tokens, "float": floats} == CHECKERS


@pytest.mark.parametrize("name", sorted(CHECKERS))
def test_identical_output_is_accepted(name: str) -> None:
    assert CHECKERS[name](b"1 2\n3\n", b"1 2\n3\n", 0, 0) is None


# --- exact ------------------------------------------------------------------------------


@pytest.mark.parametrize(("out", "at"), [
    (b"1 2 \n", "byte 3"),       # trailing whitespace
    (b"1 2\n\n", "byte 4"),      # trailing blank line
    (b"1 2\r\n", "byte 3"),      # CRLF
    (b"1 3\n", "byte 2"),        # changed character
])
def test_exact_rejects_any_byte_difference(out: bytes, at: str) -> None:
    reason = exact(out, b"1 2\n")
    assert reason is not None
    assert at in reason
    assert f"output {len(out)} bytes, answer 4" in reason


def test_exact_reports_a_prefix_at_the_end_of_the_shorter() -> None:
    assert exact(b"abc", b"abcdef") == "output differs at byte 3 (output 3 bytes, answer 6)"


# --- lines ------------------------------------------------------------------------------


@pytest.mark.parametrize("out", [
    b"1 2   \n3\t\n",               # trailing whitespace on lines
    b"1 2\n3\n\n\n",                # trailing blank lines
    b"1 2\n3\n  \n\t\n",            # trailing lines holding only whitespace
    b"1 2\r\n3\r\n",                # CRLF
    b"1 2\n3",                      # no final newline
])
def test_lines_ignores_trailing_whitespace_blank_lines_and_crlf(out: bytes) -> None:
    assert lines(out, b"1 2\n3\n") is None


def test_lines_reports_the_changed_line_with_both_values() -> None:
    reason = lines(b"a\nb\nX\nd\n", b"a\nb\nc\nd\n")
    assert reason == "line 3: expected 'c', got 'X'"


def test_lines_keeps_leading_and_inner_whitespace() -> None:
    assert lines(b" a\n", b"a\n") == "line 1: expected 'a', got ' a'"
    assert lines(b"a  b\n", b"a b\n") == "line 1: expected 'a b', got 'a  b'"
    assert lines(b"\na\n", b"a\n") == "line 1: expected 'a', got ''"


def test_lines_missing_and_extra_lines() -> None:
    assert lines(b"a\n", b"a\nb\n") == "expected 2 lines, got 1"
    assert lines(b"a\nb\nc\n", b"a\nb\n") == "expected 2 lines, got 3"
    assert lines(b"", b"a\n") == "expected 1 lines, got 0"


def test_lines_shortens_long_values_in_the_reason() -> None:
    reason = lines(b"y" * 500, b"x" * 500)
    assert reason is not None
    assert "x" * 60 + "..." in reason
    assert len(reason) < 200


# --- tokens -----------------------------------------------------------------------------


def test_tokens_ignores_whitespace_layout() -> None:
    assert tokens(b"1   2\n\n3\t4\r\n", b"1 2 3 4") is None
    assert tokens(b"  1\n2\n3\n4  ", b"1\n2\n3\n4\n") is None


def test_tokens_reports_the_changed_token() -> None:
    assert tokens(b"1 2 5 4", b"1 2 3 4") == "token 3: expected '3', got '5'"


def test_tokens_missing_and_extra_tokens() -> None:
    assert tokens(b"1 2", b"1 2 3") == "expected 3 tokens, got 2"
    assert tokens(b"1 2 3 4", b"1 2 3") == "expected 3 tokens, got 4"


def test_tokens_compares_numbers_as_text() -> None:
    assert tokens(b"1.0", b"1") == "token 1: expected '1', got '1.0'"


# --- float ------------------------------------------------------------------------------


def test_float_accepts_within_absolute_tolerance() -> None:
    assert floats(b"3.1415930", b"3.1415926", 1e-6, 0) is None
    assert floats(b"0.0000005", b"0", 1e-6, 0) is None


def test_float_accepts_within_relative_tolerance_for_big_numbers() -> None:
    # 0.5 apart: far outside abs_tol, but within 1e-6 of 1e6.
    assert floats(b"1000000.5", b"1000000", 1e-9, 1e-6) is None
    assert floats(b"1.0000001e20", b"1e20", 0, 1e-6) is None


def test_float_rejects_outside_tolerance() -> None:
    assert floats(b"3.15", b"3.14", 1e-6, 1e-6) == "token 1: expected '3.14', got '3.15'"
    assert floats(b"1000002", b"1000000", 1e-6, 1e-6) is not None


def test_float_default_tolerance_is_one_in_a_million() -> None:
    assert floats(b"2.0000001", b"2") is None
    assert floats(b"2.001", b"2") is not None


def test_float_mixes_numbers_and_words() -> None:
    assert floats(b"YES 0.3333333\n", b"YES 0.333333333", 1e-6, 0) is None
    assert floats(b"NO 0.3333333", b"YES 0.3333333") == "token 1: expected 'YES', got 'NO'"


@pytest.mark.parametrize(("out", "ans"), [
    (b"1e5", b"100000"),
    (b"-.5", b"-0.5"),
    (b"+3.", b"3"),
    (b"2.5E-3", b"0.0025"),
    (b"-0", b"0"),
])
def test_float_parses_number_forms(out: bytes, ans: bytes) -> None:
    assert floats(out, ans, 0, 0) is None


def test_nan_and_inf_must_match_exactly() -> None:
    assert floats(b"nan", b"nan") is None
    assert floats(b"inf", b"inf") is None
    assert floats(b"inf", b"1e308") == "token 1: expected '1e308', got 'inf'"
    assert floats(b"nan", b"0") == "token 1: expected '0', got 'nan'"
    # Overflowing to infinity is not "close" to another infinity.
    assert floats(b"1e400", b"2e400") == "token 1: expected '2e400', got '1e400'"


def test_float_non_numeric_token_against_a_number() -> None:
    assert floats(b"abc", b"1.5") == "token 1: expected '1.5', got 'abc'"
    assert floats(b"1.5", b"abc") == "token 1: expected 'abc', got '1.5'"


def test_hex_is_not_a_number() -> None:
    assert floats(b"0x10", b"16") == "token 1: expected '16', got '0x10'"
    assert floats(b"0x10", b"0x10") is None


def test_float_missing_tokens() -> None:
    assert floats(b"1.0", b"1.0 2.0") == "expected 2 tokens, got 1"


# --- bytes that are not UTF-8 -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHECKERS))
def test_invalid_utf8_does_not_crash(name: str) -> None:
    check = CHECKERS[name]
    assert check(b"\xff\xfe", b"\xff\xfe", 0, 0) is None
    reason = check(b"\xff\xfe\n", b"ok\n", 0, 0)
    assert isinstance(reason, str)
    assert reason


def test_invalid_utf8_is_shown_replaced() -> None:
    assert lines(b"\xff\n", b"a\n") == "line 1: expected 'a', got '\ufffd'"
    assert tokens(b"1 \xc3", b"1 2") == "token 2: expected '2', got '\ufffd'"
