"""Code extraction from raw model responses: block choice, sanitising, and that the result runs."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from codeeval.score.extract import Extraction, extract_code, extract_fenced

ADD = "def add(a, b):\n    return a + b\n"


def run(code: str, entry: str, *args: Any) -> Any:
    """Execute extracted code in a fresh namespace and call its entry point."""
    namespace: dict[str, Any] = {"__name__": "solution"}
    limit = sys.getrecursionlimit()  # extracted code may set it; keep other tests unaffected
    try:
        exec(compile(code, "<extracted>", "exec"), namespace)
        return namespace[entry](*args)
    finally:
        sys.setrecursionlimit(limit)


def test_prose_around_a_single_fence() -> None:
    response = f"Sure! Here is the function:\n\n```python\n{ADD}```\n\nIt adds two numbers."
    out = extract_code(response, "add")
    assert out == Extraction(ADD, "fenced block 1 of 1", ())


def test_picks_the_only_block_that_defines_the_entry_point() -> None:
    response = ("Usage first:\n```python\nprint(add(1, 2))\n```\nThe function:\n"
                f"```python\n{ADD}```\nAnother example:\n```python\nx = add(3, 4)\n```\n")
    out = extract_code(response, "add")
    assert out.source == "fenced block 2 of 3"
    assert out.code == ADD


def test_a_refined_later_version_wins() -> None:
    response = ("First attempt:\n```python\ndef add(a, b):\n    return a - b\n```\n"
                f"Oops, fixed:\n```python\n{ADD}```\n")
    out = extract_code(response, "add")
    assert out.source == "fenced block 2 of 2"
    assert run(out.code, "add", 2, 3) == 5


def test_a_clean_version_beats_a_later_broken_one() -> None:
    response = (f"```python\n{ADD}```\nShorter:\n```python\ndef add(a, b)\n    return a+b\n```\n")
    out = extract_code(response, "add")
    assert out.source == "fenced block 1 of 2"
    assert run(out.code, "add", 1, 1) == 2


def test_broken_code_is_still_returned_for_the_sandbox_to_reject() -> None:
    response = "```python\ndef add(a, b):\n    print 'adding'\n    return a + b\n```"
    out = extract_code(response, "add")
    assert "print 'adding'" in out.code
    with pytest.raises(SyntaxError):
        compile(out.code, "<extracted>", "exec")


def test_helpers_in_another_block_are_pulled_in() -> None:
    response = ("A helper:\n```python\nimport math\n\ndef is_square(n):\n"
                "    return math.isqrt(n) ** 2 == n\n\nprint(is_square(4))\n```\n"
                "And the solution:\n```python\ndef count_squares(xs):\n"
                "    return sum(1 for x in xs if is_square(x))\n```\n")
    out = extract_code(response, "count_squares")
    assert out.source == "fenced block 2 of 2, with helpers from fenced block 1 of 2"
    assert "print(" not in out.code
    assert run(out.code, "count_squares", [1, 2, 4, 9, 10]) == 3


def test_future_import_stays_first_when_helpers_are_prepended() -> None:
    response = ("```python\nfrom __future__ import annotations\n\ndef f(x: int) -> int:\n"
                "    return g(x)\n```\n```python\ndef g(x):\n    return x * 10\n```\n")
    out = extract_code(response, "f")
    assert out.code.startswith("from __future__ import annotations\n")
    assert run(out.code, "f", 4) == 40


@pytest.mark.parametrize("guard", ['if __name__ == "__main__":', "if __name__ == '__main__':",
                                   'if "__main__" == __name__:'])
def test_main_guard_is_dropped(guard: str) -> None:
    response = f"```python\n{ADD}\n{guard}\n    print(add(int(input()), 2))\n```"
    out = extract_code(response, "add")
    assert out.code == ADD
    assert out.dropped == ("if __name__ == '__main__' block",)


def test_top_level_prints_asserts_and_test_loops_are_dropped() -> None:
    response = (f"```python\n{ADD}\nprint(add(1, 2))\nassert add(2, 2) == 4\n"
                "for a, b in [(1, 2), (3, 4)]:\n    print(add(a, b))\ncheck(add)\n```")
    out = extract_code(response, "add")
    assert out.code == ADD
    assert out.dropped == ("top-level call print(...)", "top-level assert: assert add(2, 2) == 4",
                           "top-level for loop: for a, b in [(1, 2), (3, 4)]:",
                           "top-level call check(...)")


def test_no_fence_plain_code() -> None:
    out = extract_code(ADD + "\nprint(add(1, 2))\n", "add")
    assert out == Extraction(ADD, "whole response", ("top-level call print(...)",))


def test_no_fence_with_prose_before_and_after() -> None:
    response = f"Here's the code you asked for:\n{ADD}\nThis works because it's simple."
    out = extract_code(response, "add")
    assert out.code == ADD
    assert out.source == "whole response from line 2"


def test_fence_without_language() -> None:
    out = extract_code(f"The answer:\n```\n{ADD}```\n", "add")
    assert out == Extraction(ADD, "fenced block 1 of 1", ())


def test_unterminated_fence_runs_to_the_end() -> None:
    response = f"```Python3\n{ADD}\ndef sub(a, b):\n    return a - b"
    out = extract_code(response, "sub")
    assert run(out.code, "sub", 5, 3) == 2
    assert run(out.code, "add", 5, 3) == 8


def test_other_language_blocks_are_skipped() -> None:
    response = ("Run it with:\n```bash\npython -c 'def add(a, b): return 0'\n```\n"
                '```json\n{"a": 1, "b": 2, "expected": 3, "note": "a long json block"}\n```\n'
                f"```py\n{ADD}```\n```text\ndef add(a, b):\n    return 0\n```\n")
    out = extract_code(response, "add")
    assert out.source == "fenced block 3 of 4"
    assert run(out.code, "add", 1, 2) == 3


def test_only_other_language_blocks_fall_back_to_text_outside_them() -> None:
    response = f"{ADD}\nTo test it:\n```bash\npytest -q\n```\n"
    out = extract_code(response, "add")
    assert out.code == ADD
    assert out.source.startswith("text outside fences")


def test_tilde_fences_and_indented_fences() -> None:
    tilde = extract_code(f"~~~python\n{ADD}~~~\n", "add")
    assert tilde.code == ADD
    listed = "1. Define it:\n   ```python\n   def add(a, b):\n       return a + b\n   ```\n"
    assert extract_code(listed, "add").code == ADD


def test_think_sections_are_ignored() -> None:
    response = ("<think>Maybe:\n```python\ndef add(a, b):\n    return a * b\n```\n"
                "no, that multiplies.</think>\n" + f"```python\n{ADD}```")
    out = extract_code(response, "add")
    assert out.source == "fenced block 1 of 1"
    assert run(out.code, "add", 2, 3) == 5
    # The opening tag may live in the prompt: drop everything before a lone closing tag.
    assert extract_code("```python\nadd = 0\n```</think>" + ADD, "add").code == ADD


def test_unicode_before_the_function_keeps_offsets_right() -> None:
    response = ("```python\n# Größe — 計算 ✓\nGRÜSSE = 'héllo, 世界 🌍'\nprint(GRÜSSE)\n"
                "def grüß(n):\n    return GRÜSSE * n\n```")
    out = extract_code(response, "grüß")
    assert out.code == "GRÜSSE = 'héllo, 世界 🌍'\n\ndef grüß(n):\n    return GRÜSSE * n\n"
    assert run(out.code, "grüß", 2) == "héllo, 世界 🌍" * 2


@pytest.mark.parametrize("response", ["", "   \n\t", "I cannot help with that.",
                                      "<think>def add(a, b): ...", "```bash\nls -la\n```"])
def test_no_usable_code_gives_empty_code(response: str) -> None:
    assert extract_code(response, "add").code == ""


def test_constants_kept_and_calls_at_import_time_dropped_unless_used() -> None:
    response = ("```python\nimport re\nMOD = 10**9 + 7\nWORD = re.compile(r'[a-z]+')\n"
                "n = int(input())\nresult = count(['ab cd'])\n\ndef count(lines):\n"
                "    return sum(len(WORD.findall(s)) for s in lines) % MOD\n```")
    out = extract_code(response, "count")
    assert "MOD = 10**9 + 7" in out.code
    assert "WORD = re.compile" in out.code
    assert out.dropped == ("top-level assignment: n = int(input())",
                           "top-level assignment: result = count(['ab cd'])")
    assert run(out.code, "count", ["ab cd", "e"]) == 3


def test_class_before_a_top_level_entry_point() -> None:
    response = ("```python\nclass Solution:\n    def two_sum(self, nums, target):\n"
                "        seen = {}\n        for i, x in enumerate(nums):\n"
                "            if target - x in seen:\n                return [seen[target - x], i]\n"
                "            seen[x] = i\n        return []\n\n\ndef two_sum(nums, target):\n"
                "    return Solution().two_sum(nums, target)\n\n\n"
                "print(two_sum([2, 7, 11], 9))\n```")
    out = extract_code(response, "two_sum")
    assert out.code.startswith("class Solution:")
    assert out.dropped == ("top-level call print(...)",)
    assert run(out.code, "two_sum", [2, 7, 11, 15], 9) == [0, 1]


def test_guarded_imports_recursion_limit_and_lambda_entry_point() -> None:
    response = ("```python\nimport sys\ntry:\n    from math import isqrt\nexcept ImportError:\n"
                "    isqrt = None\nsys.setrecursionlimit(10000)\n"
                "root = lambda n: isqrt(n)\nroot(16)\n```")
    out = extract_code(response, "root")
    assert "sys.setrecursionlimit(10000)" in out.code
    assert out.dropped == ("top-level call root(...)",)
    assert run(out.code, "root", 17) == 4


def test_without_entry_point_the_longest_clean_block_wins() -> None:
    response = ("```python\nx = 1\n```\n```python\ndef helper():\n    return 1\n\n"
                "def main():\n    return helper() + 1\n```\n```\nOutput: 2 (it works!\n```\n")
    out = extract_code(response, None)
    assert out.source == "fenced block 2 of 3"
    assert run(out.code, "main") == 2


def test_odd_text_never_raises() -> None:
    for response in ["\ud800 def f(): pass", "```python\n" + "(" * 5000 + "\n```",
                     "```\n```\n```", "~~~~\n```\nnot closed by backticks\n~~~~",
                     "def f():\r\n    return 1\r\n"]:
        assert isinstance(extract_code(response, "f"), Extraction)
    assert run(extract_code("def f():\r\n    return 1\r\n", "f").code, "f") == 1


def test_import_does_not_load_tree_sitter() -> None:
    code = "import sys, codeeval.score.extract\nprint('tree_sitter' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_scripts_are_kept_whole() -> None:
    response = ("Read two numbers and print the sum:\n```python\nimport sys\n\n"
                "def main():\n    a, b = map(int, sys.stdin.read().split())\n    print(a + b)\n\n"
                "if __name__ == \"__main__\":\n    main()\n```\n")
    out = extract_code(response, None, keep_script=True)
    assert out.code.endswith("if __name__ == \"__main__\":\n    main()\n")
    assert out.dropped == ()
    assert "main()" not in extract_code(response, None).code.split("def main")[0]


@pytest.mark.parametrize(("response", "code", "source"), [
    ("```cpp\nint a;\n```\n```cpp\nint b;\n```\n", "int b;\n", "fenced block 2 of 2"),
    ("```c++\nint a;\n```\n```python\nx = 1\n```\n", "int a;\n", "fenced block 1 of 2"),
    ("```\nint a;\n```\n```python\nx = 1\n```\n", "int a;\n", "fenced block 1 of 2"),
    ("<think>```cpp\nint no;\n```</think>\n```cpp\nint yes;\n```", "int yes;\n",
     "fenced block 1 of 1"),
    ("int main() {}\n", "int main() {}\n", "whole response"),
    ("```python\nx = 1\n```", "```python\nx = 1\n```\n",
     "whole response (no fenced block in the language)"),
    ("  \n", "", "empty response"),
])
def test_fenced_extraction_for_other_languages(response: str, code: str, source: str) -> None:
    found = extract_fenced(response, ("cpp", "c++"))
    assert (found.code, found.source, found.dropped) == (code, source, ())
