"""The language registry: one entry per language, placeholders, environments, toolchains."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codeeval.errors import BackendUnavailable, UnknownLanguageError
from codeeval.languages import get_language, language_for_path, language_names, toolchains
from codeeval.languages.registry import PYTHON
from codeeval.model.run import Limits

SIX = ["cpp", "go", "java", "javascript", "python", "rust"]


def test_six_languages_are_registered() -> None:
    assert set(SIX) <= set(language_names())


@pytest.mark.parametrize(("path", "name"), [
    ("a.py", "python"), ("a.cpp", "cpp"), ("a.cc", "cpp"), ("a.cxx", "cpp"),
    ("Main.java", "java"), ("a.js", "javascript"), ("a.go", "go"), ("a.rs", "rust"),
])
def test_extensions_select_the_language(path: str, name: str) -> None:
    assert language_for_path(path).name == name


@pytest.mark.parametrize(("alias", "name"), [
    ("c++", "cpp"), ("js", "javascript"), ("node", "javascript"), ("nodejs", "javascript"),
    ("golang", "go"), ("rs", "rust"), ("cpp", "cpp"),
])
def test_aliases(alias: str, name: str) -> None:
    assert get_language(alias).name == name


def test_unknown_language_lists_the_known_ones() -> None:
    with pytest.raises(UnknownLanguageError, match="available: cpp, go, java"):
        get_language("cobol")


@pytest.mark.parametrize(("name", "source", "artifact", "image", "address_space"), [
    ("cpp", "main.cpp", "main", "cpp", True),
    ("java", "Main.java", "main.jar", "java", False),
    ("javascript", "main.js", None, "javascript", False),
    ("go", "main.go", "main", "go", False),
    ("rust", "main.rs", "main", "rust", True),
])
def test_entries(name: str, source: str, artifact: str | None, image: str,
                 address_space: bool) -> None:
    lang = get_language(name)
    assert (lang.source_name, lang.image, lang.limit_address_space) == (
        source, image, address_space)
    if artifact is None:
        assert lang.compile is None
        return
    assert lang.compile is not None
    assert lang.compile.artifacts == (artifact,)
    # Compilers get limits of their own, more generous than a program's defaults.
    assert lang.compile.limits.time_s >= 10
    assert lang.compile.limits.memory_mb >= 1024
    assert lang.compile.limits.stderr_bytes >= lang.compile.message_bytes


@pytest.mark.parametrize("name", ["cpp", "java", "javascript", "go", "rust"])
def test_commands_name_tools_found_on_path(name: str) -> None:
    # Not host paths: the same commands must resolve inside a Docker image.
    lang = get_language(name)
    commands = [lang.run] + ([lang.compile.command] if lang.compile else [])
    for command in commands:
        assert not command[0].startswith("/"), command
    assert all("{" not in a or "{memory_mb}" in a for a in lang.substitute(lang.run))


def test_placeholders() -> None:
    java = get_language("java")
    run = java.substitute(java.run)
    assert "-XX:MaxRAM={memory_mb}m" in run  # filled per run, once the limits are known
    assert run[-3:] == ("-cp", "main.jar", "Main")
    assert "-XX:MaxRAM=300m" in java.substitute(run, Limits(memory_mb=300))
    assert PYTHON.substitute(("{python}", "-c", "print({1: 2})"))[1:] == ("-c", "print({1: 2})")
    js = get_language("javascript")
    assert js.substitute(js.run, Limits(memory_mb=64)) == (
        "node", "--max-old-space-size=64", "main.js")


def test_go_environment_keeps_caches_in_tmp_and_follows_the_memory_limit() -> None:
    go = get_language("go")
    env = dict(go.env)
    assert env["GOCACHE"].startswith("/tmp/")
    assert env["GOPATH"].startswith("/tmp/")
    assert (env["CGO_ENABLED"], env["GOPROXY"]) == ("0", "off")
    try:
        full = go.environment(Limits(memory_mb=200))
    except BackendUnavailable as e:
        pytest.skip(str(e))
    assert full["GOMEMLIMIT"] == "200MiB"
    assert full["PATH"].endswith(":".join(toolchains.STANDARD_PATH))


def test_path_env_puts_own_dirs_first_without_duplicates() -> None:
    chain = toolchains.Toolchain(bin_dirs=("/opt/jdk/bin", "/usr/bin"))
    assert chain.path_env(("/opt/java/openjdk/bin", "/opt/jdk/bin")) == (
        "/opt/jdk/bin:/opt/java/openjdk/bin:/usr/local/bin:/usr/bin:/bin")


def test_symlink_targets_outside_the_home(tmp_path: Path) -> None:
    home, etc = tmp_path / "jdk", tmp_path / "etc" / "java"
    (home / "lib" / "security").mkdir(parents=True)
    (home / "conf").mkdir()
    (etc / "security").mkdir(parents=True)
    (etc / "jvm.cfg").write_text("-server KNOWN\n")
    (etc / "security" / "java.security").write_text("")
    os.symlink(etc / "jvm.cfg", home / "lib" / "jvm.cfg")
    os.symlink(etc / "security" / "java.security", home / "conf" / "java.security")
    os.symlink("jvm.cfg", home / "lib" / "relative.cfg")  # inside the home: not needed
    os.symlink(tmp_path / "missing", home / "lib" / "dangling")
    assert toolchains.symlink_targets(str(home)) == (str(etc), str(etc / "security"))


def test_missing_toolchain_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolchains, "find_tool", lambda name, extra_dirs=(): None)
    for find, package in [(toolchains.cpp, "g++"), (toolchains.java, "openjdk"),
                          (toolchains.node, "nodejs"), (toolchains.go, "golang-go"),
                          (toolchains.rust, "rustc")]:
        with pytest.raises(BackendUnavailable, match=f"scripts/install.sh.*{package}"):
            find.__wrapped__()


@pytest.mark.parametrize("name", ["cpp", "java", "javascript", "go", "rust"])
def test_host_toolchain_resolves(name: str) -> None:
    lang = get_language(name)
    try:
        paths = lang.runtime_paths()
        env = lang.environment(Limits())
    except BackendUnavailable as e:
        pytest.skip(f"{name} toolchain missing here (scripts/install.sh installs it): {e}")
    assert all(os.path.isabs(p) and not p.startswith("/usr/") for p in paths)
    tool = {"cpp": "g++", "java": "java", "javascript": "node", "go": "go",
            "rust": "rustc"}[name]
    dirs = env["PATH"].split(":")
    assert any(os.access(os.path.join(d, tool), os.X_OK) for d in dirs), (dirs, tool)
