"""The languages codeeval ships besides Python: C++, Java, JavaScript, Go and Rust.

Each is one :class:`~codeeval.languages.registry.Language`: the source file name, the
compile step (run inside the sandbox with its own limits; its failure is ``CE``), the run
command, the ``sandbox_images/`` runtime that runs it on the docker backend, and the host
toolchain the namespace backend shows read-only (:mod:`.toolchains`).

Choices worth knowing:

* **C++**: ``g++ -O2 -std=gnu++17 -DONLINE_JUDGE``, at most 50 errors reported.
* **Java**: the class is ``Main`` in ``Main.java``. ``javac`` may emit several class files
  (inner and anonymous classes), so the compile step packs them into one ``main.jar`` with
  ``jar``, the single artifact. The JVM sizes its heap from the run's memory limit
  (``-XX:MaxRAM``), runs the serial collector and a 64 MiB thread stack, and sees two
  processors, which bounds its thread count on big hosts.
* **JavaScript**: ``node`` with the old-space heap capped at the memory limit; no compile
  step. CommonJS (``require``), as competitive-programming judges run it.
* **Go**: ``go build`` with a build cache and ``GOPATH`` in the sandbox's ``/tmp``
  (discarded with the run), no modules, no network, no cgo: a static binary. No
  ``-trimpath``: with the std library precompiled by the toolchain (Debian's Go 1.19), it
  would rebuild the std packages a program uses (measured: 9 s of CPU instead of 0.3 s).
  Go 1.20+ ships no precompiled std, so a cold cache compiles what the program imports;
  the compile limits leave room for that. ``GOMEMLIMIT`` follows the memory limit.
* **Rust**: ``rustc -O --edition 2021`` (rustup's proxy is resolved to the toolchain's
  own ``rustc``, whose sysroot is shown read-only). It links with ``gcc`` (``cc`` is a
  Debian alternatives link into ``/etc``, which the sandbox does not show).

Each compile step has a canary, a program that must compile: when a program does not
compile, the canary is compiled once per backend, so a toolchain broken in the sandbox is an
infra error (``SE``) rather than ``CE`` for every program.

The JVM, node and Go reserve large virtual ranges, so they run without ``RLIMIT_AS``; the
cgroup's memory limit still holds.
"""

from __future__ import annotations

from collections.abc import Callable

from codeeval.languages import toolchains
from codeeval.languages.registry import CompileStep, Language, register_language
from codeeval.model.run import MIB, Limits


def _compile_limits(time_s: float, memory_mb: int, processes: int) -> Limits:
    return Limits(time_s=time_s, wall_time_s=2 * time_s + 10, memory_mb=memory_mb,
                  processes=processes, file_size_mb=256, scratch_mb=512,
                  stdout_bytes=1 * MIB, stderr_bytes=1 * MIB, open_files=1024)


def _paths(chain: Callable[[], toolchains.Toolchain]) -> Callable[[], tuple[str, ...]]:
    return lambda: chain().paths


def _path_env(chain: Callable[[], toolchains.Toolchain], *image_dirs: str
              ) -> Callable[[], tuple[tuple[str, str], ...]]:
    return lambda: (("PATH", chain().path_env(image_dirs)),)


CPP = register_language(Language(
    name="cpp",
    aliases=("c++", "cxx", "g++"),
    extensions=(".cpp", ".cc", ".cxx", ".c++"),
    source_name="main.cpp",
    compile=CompileStep(
        command=("g++", "-O2", "-std=gnu++17", "-pipe", "-DONLINE_JUDGE", "-fmax-errors=50",
                 "-o", "main", "{src}"),
        artifacts=("main",),
        limits=_compile_limits(time_s=10.0, memory_mb=1024, processes=32),
        canary=b"#include <iostream>\nint main() { std::cout << 1 << std::endl; }\n"),
    run=("./{exe}",),
    runtime_paths=_paths(toolchains.cpp),
    runtime_env=_path_env(toolchains.cpp),
    image="cpp",
))

_JVM = ("-XX:+UseSerialGC", "-XX:-UsePerfData", "-XX:ActiveProcessorCount=2")
JAVA = register_language(Language(
    name="java",
    extensions=(".java",),
    source_name="Main.java",
    compile=CompileStep(
        command=("sh", "-c",
                 "javac " + " ".join(f"-J{o}" for o in _JVM) + " -J-XX:TieredStopAtLevel=1"
                 " -J-XX:MaxRAM={memory_mb}m -encoding UTF-8 -Xmaxerrs 50 -d classes {src}"
                 " && jar " + " ".join(f"-J{o}" for o in _JVM) + " -J-XX:TieredStopAtLevel=1"
                 " --create --file main.jar --main-class Main -C classes ."),
        artifacts=("main.jar",),
        limits=_compile_limits(time_s=20.0, memory_mb=2048, processes=128),
        canary=b"public class Main {\n    public static void main(String[] args) {\n"
               b"        System.out.println(1);\n    }\n}\n"),
    run=("java", *_JVM, "-XX:MaxRAM={memory_mb}m", "-XX:MaxRAMPercentage=80", "-Xss64m",
         "-cp", "{exe}", "Main"),
    runtime_paths=_paths(toolchains.java),
    runtime_env=_path_env(toolchains.java, "/opt/java/openjdk/bin"),
    limit_address_space=False,
    image="java",
))

JAVASCRIPT = register_language(Language(
    name="javascript",
    aliases=("js", "node", "nodejs"),
    extensions=(".js", ".cjs"),
    source_name="main.js",
    run=("node", "--max-old-space-size={memory_mb}", "{src}"),
    runtime_paths=_paths(toolchains.node),
    runtime_env=_path_env(toolchains.node),
    limit_address_space=False,
    image="javascript",
))

GO = register_language(Language(
    name="go",
    aliases=("golang",),
    extensions=(".go",),
    source_name="main.go",
    compile=CompileStep(
        command=("go", "build", "-o", "main", "{src}"),
        artifacts=("main",),
        limits=_compile_limits(time_s=40.0, memory_mb=2048, processes=128),
        canary=b"package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(1) }\n"),
    run=("./{exe}",),
    env=(("GOCACHE", "/tmp/go-cache"), ("GOPATH", "/tmp/go"), ("GO111MODULE", "off"),
         ("GOPROXY", "off"), ("GOTOOLCHAIN", "local"), ("GOTELEMETRY", "off"),
         ("CGO_ENABLED", "0"), ("GOFLAGS", "-buildvcs=false"), ("GOMAXPROCS", "2"),
         ("GOMEMLIMIT", "{memory_mb}MiB")),
    runtime_paths=_paths(toolchains.go),
    runtime_env=_path_env(toolchains.go, "/usr/local/go/bin"),
    limit_address_space=False,
    image="go",
))

RUST = register_language(Language(
    name="rust",
    aliases=("rs",),
    extensions=(".rs",),
    source_name="main.rs",
    compile=CompileStep(
        command=("rustc", "-O", "--edition", "2021", "-C", "codegen-units=1", "-C",
                 "linker=gcc", "-o", "main", "{src}"),
        artifacts=("main",),
        limits=_compile_limits(time_s=30.0, memory_mb=2048, processes=128),
        canary=b"fn main() {\n    println!(\"1\");\n}\n"),
    run=("./{exe}",),
    runtime_paths=_paths(toolchains.rust),
    runtime_env=_path_env(toolchains.rust, "/usr/local/cargo/bin"),
    image="rust",
))
