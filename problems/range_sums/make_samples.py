"""Write samples.jsonl: every reference and known-wrong program of this problem as a sample,
with its language (from the file extension) and the verdict it must get on the last suite.

    python problems/range_sums/make_samples.py

The test suite checks that samples.jsonl is what this script writes.
"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
TASK_ID = "native/range_sums"
LANGUAGES = {".py": "python", ".cpp": "cpp", ".java": "java", ".js": "javascript",
             ".go": "go", ".rs": "rust"}
#: Verdict of each known-wrong program on the last suite ("plus": base + generated).
WRONG = {
    "wrong/ClassNotMain.java": "CE",
    "wrong/IntOverflow.java": "WA",
    "wrong/i32.rs": "WA",
    "wrong/int32.go": "WA",
    "wrong/int_overflow.cpp": "WA",
    "wrong/missing_semicolon.cpp": "CE",
    "wrong/off_by_one.py": "WA",
    "wrong/quadratic.js": "TLE",
    "wrong/short_prefix.rs": "RE",
}


def rows() -> list[dict[str, str]]:
    """The samples, references first."""
    right = ["reference.py", "reference.cpp",
             *sorted(p.relative_to(HERE).as_posix() for p in (HERE / "solutions").iterdir())]
    out = [{"task_id": TASK_ID, "language": LANGUAGES[Path(name).suffix], "name": name,
            "expect": verdict, "solution": (HERE / name).read_text()}
           for name, verdict in [*((n, "AC") for n in right), *sorted(WRONG.items())]]
    # A raw model response in C++: the code is taken from its cpp-tagged fenced block.
    cpp = (HERE / "reference.cpp").read_text()
    out.append({"task_id": TASK_ID, "language": "cpp", "name": "response (reference.cpp)",
                "expect": "AC", "response": f"Prefix sums:\n\n```cpp\n{cpp}```\n"})
    return out


def render() -> str:
    """The text of samples.jsonl."""
    return "".join(json.dumps(row) + "\n" for row in rows())


if __name__ == "__main__":
    (HERE / "samples.jsonl").write_text(render())
