"""Hostile programs in C++, Java, JavaScript, Go and Rust: each gets its verdict and leaves
nothing behind (the leak check of conftest), on every backend of the conformance suite.

Each language has one program whose behaviour is chosen by its stdin (``hello``, ``loop``,
``memory``, ...), compiled once per backend and module, so most tests only run it.
Compile-time attacks on g++ must end as ``CE`` within the C++ compile limits.
"""

from __future__ import annotations

import dataclasses
import os
import textwrap
import uuid
from typing import Any

import pytest

from codeeval.errors import BackendUnavailable, ImageMissing
from codeeval.harness.program import Prepared, prepare, run_prepared
from codeeval.languages import get_language
from codeeval.languages.registry import Language
from codeeval.model.run import Limits, RunResult, RunStatus
from codeeval.sandbox import Backend
from tests.sandbox.conftest import REPORT, TOKEN_VAR, Runner, require

pytestmark = pytest.mark.conformance

PROGRAMS = {
    "cpp": r"""
        #include <cstdio>
        #include <cstdlib>
        #include <cstring>
        #include <string>
        #include <vector>
        #include <unistd.h>

        static int depth(int n) {
            volatile char pad[1024];
            pad[0] = static_cast<char>(n);
            return depth(n + 1) + pad[0];
        }

        int main() {
            char mode[16] = {0};
            if (std::scanf("%15s", mode) != 1) return 2;
            std::string m = mode;
            if (m == "hello") { std::puts("hello"); return 0; }
            if (m == "loop") { volatile unsigned long x = 0; for (;;) ++x; }
            if (m == "fork") { for (;;) fork(); }
            if (m == "memory") {
                std::vector<char*> kept;
                for (;;) {
                    char* p = static_cast<char*>(std::malloc(1 << 20));
                    if (!p) return 3;
                    std::memset(p, 1, 1 << 20);
                    kept.push_back(p);
                }
            }
            if (m == "stack") return depth(0);
            if (m == "daemon") {
                if (fork() == 0) {
                    setsid();
                    if (fork() == 0) sleep(30);
                    _exit(0);
                }
                usleep(200000);
                std::puts("parent done");
                return 0;
            }
            return 1;
        }
    """,
    "java": """
        import java.io.BufferedReader;
        import java.io.InputStreamReader;
        import java.util.ArrayList;
        import java.util.List;

        public class Main {
            public static void main(String[] args) throws Exception {
                String mode = new BufferedReader(new InputStreamReader(System.in)).readLine();
                if (mode.equals("hello")) { System.out.println("hello"); return; }
                if (mode.equals("loop")) { long x = 0; while (true) x += System.nanoTime() & 1; }
                if (mode.equals("memory")) {
                    List<long[]> kept = new ArrayList<>();
                    while (true) kept.add(new long[1 << 17]);
                }
                System.exit(1);
            }
        }
    """,
    "javascript": """
        const mode = require("fs").readFileSync(0, "utf8").trim();
        if (mode === "hello") {
          console.log("hello");
        } else if (mode === "loop") {
          for (;;) {}
        } else if (mode === "memory") {
          const kept = [];
          for (;;) kept.push(new Array(1 << 16).fill(1.5));
        } else {
          process.exit(1);
        }
    """,
    "go": """
        package main

        import (
            "fmt"
            "os"
        )

        func main() {
            var mode string
            fmt.Scan(&mode)
            switch mode {
            case "hello":
                fmt.Println("hello")
            case "loop":
                x := 0
                for {
                    x++
                }
            case "memory":
                var kept [][]byte
                for {
                    b := make([]byte, 1<<20)
                    for i := range b {
                        b[i] = 1
                    }
                    kept = append(kept, b)
                }
            default:
                os.Exit(1)
            }
        }
    """,
    "rust": """
        use std::io::BufRead;

        fn main() {
            let mut mode = String::new();
            std::io::stdin().lock().read_line(&mut mode).unwrap();
            match mode.trim() {
                "hello" => println!("hello"),
                "loop" => {
                    let mut x: u64 = 0;
                    loop {
                        // a volatile read the optimiser cannot drop (black_box is
                        // unstable in Debian's rustc 1.63)
                        x = unsafe { std::ptr::read_volatile(&x) } + 1;
                    }
                }
                "memory" => {
                    let mut kept: Vec<Vec<u8>> = Vec::new();
                    loop {
                        kept.push(vec![1u8; 1 << 20]);
                    }
                }
                _ => std::process::exit(1),
            }
        }
    """,
}

#: A program per compiled language that does not compile, and words its message must hold.
BROKEN = {
    "cpp": ("int main() { return undefined_name; }\n", "undefined_name"),
    "java": ("public class Main { public static void main(String[] a) { int x = } }\n",
             "error"),
    "go": ("package main\n\nfunc main() { x := 1 }\n", "declared"),
    "rust": ('fn main() { let x: i32 = "text"; }\n', "mismatched types"),
}

OTHERS = ["java", "javascript", "go", "rust"]
_compiled: dict[tuple[int, str, str], Prepared] = {}


def src(code: str) -> bytes:
    return textwrap.dedent(code).lstrip().encode()


class LanguageRunner:
    """Compiles and runs programs of one language, checking each job for leftovers."""

    def __init__(self, backend: Backend, test_name: str) -> None:
        self.backend = backend
        self.test_name = test_name
        self.leaks: list[str] = []

    def _tagged(self, lang: Language) -> tuple[Language, str]:
        token = uuid.uuid4().hex
        return dataclasses.replace(lang, env=(*lang.env, (TOKEN_VAR, token))), token

    def _checked(self, token: str, fds_before: set[str], status: RunStatus,
                 label: str = "") -> None:
        runner = Runner(self.backend, self.test_name)
        runner.check_leaks(token, fds_before)
        self.leaks += runner.leaks
        REPORT.append((f"{self.test_name}{label}", self.backend.name, status.value,
                       "clean" if not runner.leaks else "; ".join(runner.leaks)))

    def prepare(self, language: str, source: bytes, *, cache: bool = True) -> Prepared:
        """Compile ``source`` (once per backend when ``cache``); skip if the runtime is
        missing here."""
        key = (id(self.backend), language, source.decode())
        if cache and key in _compiled:
            return _compiled[key]
        lang, token = self._tagged(get_language(language))
        try:
            lang.runtime_paths()
            lang.environment()
        except BackendUnavailable as e:  # a host toolchain is missing (not an error here)
            pytest.skip(f"{language} toolchain missing (scripts/install.sh installs it): {e}")
        fds_before = set(os.listdir("/proc/self/fd"))
        try:
            prepared = prepare(self.backend, lang, source)
        except ImageMissing as e:
            pytest.skip(f"{language} cannot run on the {self.backend.name} backend here: {e}")
        self._checked(token, fds_before, RunStatus.CE if prepared.compile_error
                      else RunStatus.OK, " (compile)")
        if cache:
            _compiled[key] = prepared
        return prepared

    def run(self, language: str, mode: str, **limits: Any) -> RunResult:
        """Run the language's hostile program in ``mode``."""
        prepared = self.prepare(language, src(PROGRAMS[language]))
        assert prepared.compile_error is None, prepared.compile_error.stderr.decode()
        lang, token = self._tagged(get_language(language))
        lim: dict[str, Any] = {"time_s": 1.0, "memory_mb": 256, "processes": 64,
                               "scratch_mb": 16}
        lim.update(limits)
        fds_before = set(os.listdir("/proc/self/fd"))
        result = run_prepared(self.backend, dataclasses.replace(prepared, language=lang),
                              stdin=f"{mode}\n".encode(), limits=Limits(**lim))
        self._checked(token, fds_before, result.status)
        return result


@pytest.fixture
def lang_runner(backend: Backend, request: pytest.FixtureRequest) -> Any:
    label = request.node.callspec.params.get("backend", backend.name)
    if label == "forkserver":
        pytest.skip("only Python runs through the fork server; the namespace variant covers "
                    "other languages")
    r = LanguageRunner(backend, request.node.name.replace(f"[{label}-", "[")
                       .replace(f"[{label}]", ""))
    yield r
    assert not r.leaks, f"runs left things behind: {r.leaks}"


# --------------------------------------------------------------------------- every language
@pytest.mark.parametrize("language", ["cpp", *OTHERS])
def test_hello(lang_runner: LanguageRunner, language: str) -> None:
    r = lang_runner.run(language, "hello")
    assert r.status is RunStatus.OK, r
    assert r.stdout == b"hello\n"


@pytest.mark.parametrize("language", ["cpp", *OTHERS])
def test_infinite_loop_is_tle(lang_runner: LanguageRunner, language: str) -> None:
    r = lang_runner.run(language, "loop", time_s=0.5)
    assert r.status is RunStatus.TLE, r
    assert r.cpu_time_s >= 0.5
    assert r.wall_time_s < 0.5 * 2 + 1 + 1.0


@pytest.mark.parametrize("language", ["cpp", *OTHERS])
def test_memory_bomb_is_mle(lang_runner: LanguageRunner, language: str) -> None:
    r = lang_runner.run(language, "memory", memory_mb=128, time_s=5.0)
    assert r.status is RunStatus.MLE, r


@pytest.mark.parametrize("language", list(BROKEN))
def test_compile_error_is_ce_with_message(lang_runner: LanguageRunner, language: str) -> None:
    code, words = BROKEN[language]
    prepared = lang_runner.prepare(language, code.encode(), cache=False)
    error = prepared.compile_error
    assert error is not None
    assert error.status is RunStatus.CE
    assert words in error.stderr.decode(errors="replace"), error.stderr
    assert run_prepared(lang_runner.backend, prepared) is error


@pytest.mark.parametrize("language", list(BROKEN))
def test_canary_compiles(lang_runner: LanguageRunner, language: str) -> None:
    # Were it not to, every compile error would be reported as an infra error.
    step = get_language(language).compile
    assert step is not None
    assert lang_runner.prepare(language, step.canary).compile_error is None


# --------------------------------------------------------------------------- C++ at run time
def test_cpp_fork_bomb_is_contained(lang_runner: LanguageRunner) -> None:
    require(lang_runner.backend, "pids_limit")
    r = lang_runner.run("cpp", "fork", time_s=1.0, wall_time_s=3.0, processes=32)
    assert r.status is RunStatus.TLE, r


def test_cpp_stack_overflow_is_re(lang_runner: LanguageRunner) -> None:
    r = lang_runner.run("cpp", "stack", stack_mb=8, time_s=2.0)
    assert r.status is RunStatus.RE, r
    assert r.signal == 11  # SIGSEGV


def test_cpp_setsid_daemon_does_not_outlive_run(lang_runner: LanguageRunner) -> None:
    require(lang_runner.backend, "containment")
    r = lang_runner.run("cpp", "daemon")
    assert r.status is RunStatus.OK, r
    assert r.stdout == b"parent done\n"
    # The leak check (token scan of every host process) proves the daemon is dead.


# --------------------------------------------------------------------------- C++ compile time
def _compile_attack(lang_runner: LanguageRunner, code: str) -> RunResult:
    cpp = get_language("cpp")
    assert cpp.compile is not None
    prepared = lang_runner.prepare("cpp", src(code), cache=False)
    error = prepared.compile_error
    assert error is not None, "the attack compiled"
    assert error.status is RunStatus.CE, error
    assert len(error.stderr) <= cpp.compile.message_bytes
    assert error.cpu_time_s <= cpp.compile.limits.time_s + 1.0
    assert error.wall_time_s <= cpp.compile.limits.wall_s + 2.0
    return error


def test_cpp_compiler_error_flood_is_ce_with_capped_message(
        lang_runner: LanguageRunner) -> None:
    flood = "int main() {\n" + "".join(f"    undefined_{i}();\n" for i in range(50_000)) + "}\n"
    error = _compile_attack(lang_runner, flood)
    assert b"undefined_0" in error.stderr
    assert b"undefined_49999" not in error.stderr


@pytest.mark.slow
def test_cpp_include_dev_random_is_ce(lang_runner: LanguageRunner) -> None:
    _compile_attack(lang_runner, "#include </dev/random>\nint main() {}\n")


@pytest.mark.slow
def test_cpp_template_explosion_is_ce(lang_runner: LanguageRunner) -> None:
    # 2^40 distinct instantiations, each a base class of the one above: no memoisation helps.
    error = _compile_attack(lang_runner, """
        template <int N, int... Is> struct E : E<N - 1, Is..., 0>, E<N - 1, Is..., 1> {};
        template <int... Is> struct E<0, Is...> {};
        E<40> e;
        int main() {}
    """)
    assert "compilation failed" in error.reason
