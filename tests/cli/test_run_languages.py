"""``codeeval run`` on C++, Java, JavaScript, Go and Rust: like Python, plus CE on a compile
error with the compiler's message. Skips (with the reason) where a toolchain is missing;
``scripts/install.sh`` installs them all when run as root, so CI skips none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codeeval.errors import BackendUnavailable
from codeeval.languages import get_language
from tests.sandbox.conftest import _backend

HELLO = {
    "x.cpp": "#include <iostream>\nint main() { std::string s; std::cin >> s; "
             "std::cout << \"hello \" << s << std::endl; }\n",
    "Main.java": "public class Main { public static void main(String[] a) { "
                 "System.out.println(\"hello \" + new java.util.Scanner(System.in).next()); } }\n",
    "x.js": "const s = require('fs').readFileSync(0, 'utf8').trim();\n"
            "console.log('hello ' + s);\n",
    "x.go": "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tvar s string\n\tfmt.Scan(&s)\n"
            "\tfmt.Println(\"hello \" + s)\n}\n",
    "x.rs": "fn main() { let mut s = String::new(); std::io::stdin().read_line(&mut s)"
            ".unwrap(); println!(\"hello {}\", s.trim()); }\n",
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codeeval", *args], capture_output=True,
                          text=True, env=dict(os.environ), timeout=300)


def need(language: str) -> None:
    """Skip unless the namespace backend and ``language``'s toolchain are here."""
    _backend("namespace")
    lang = get_language(language)
    try:
        lang.runtime_paths()
        lang.environment()
    except BackendUnavailable as e:
        pytest.skip(f"{language} toolchain missing (scripts/install.sh installs it): {e}")


@pytest.mark.parametrize(("name", "language"), [
    ("x.cpp", "cpp"), ("Main.java", "java"), ("x.js", "javascript"), ("x.go", "go"),
    ("x.rs", "rust"),
])
def test_run_json_by_extension(tmp_path: Path, name: str, language: str) -> None:
    need(language)
    source, stdin = tmp_path / name, tmp_path / "in.txt"
    source.write_text(HELLO[name])
    stdin.write_text("world\n")
    out = cli("run", str(source), "--stdin", str(stdin), "--json")
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    data = json.loads(line)
    assert (data["status"], data["stdout"], data["exit_code"]) == ("OK", "hello world\n", 0)


def test_run_cpp_compile_error_is_ce_with_message(tmp_path: Path) -> None:
    need("cpp")
    source = tmp_path / "bad.cc"
    source.write_text("int main() { return missing_name; }\n")
    out = cli("run", str(source), "--json", "--lang", "c++")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "CE"
    assert "missing_name" in data["stderr"]
    assert "error" in data["stderr"]
    assert data["reason"].startswith("compilation failed")
    assert data["stdout"] == ""


def test_run_cpp_plain_output_and_tle(tmp_path: Path) -> None:
    need("cpp")
    source = tmp_path / "loop.cpp"
    source.write_text("int main() { volatile int x = 0; for (;;) ++x; }\n")
    out = cli("run", str(source), "--time-limit", "0.3")
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines()[-1].startswith("codeeval: TLE")
