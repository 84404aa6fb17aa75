"""Sandbox images against a real Docker engine: build, skip by tag, resolve, check, errors.

Build tests use a throwaway recipe on ``scratch`` (no registry, no base needed). The smoke
tests run each real image of ``sandbox_images/`` as the docker backend will (uid 65532, no
network) and need those images built (``scripts/build_images.sh``): in CI a missing image
fails, elsewhere it skips with the command that builds it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codeeval.cli.main import main
from codeeval.errors import BackendUnavailable, ImageMissing
from codeeval.sandbox.docker import images

pytestmark = pytest.mark.docker

IN_CI = os.environ.get("CI") == "true" or os.environ.get("CODEEVAL_DOCKER_TESTS") == "1"

_REAL_RECIPES = images.IMAGES_DIR

# Each command prints "ok" when the runtime works for an unprivileged user without network.
SMOKE = {
    "python": "python3 -c 'print(\"ok\")'",
    "cpp": "printf '#include <cstdio>\\nint main(){std::puts(\"ok\");}' > a.cpp"
           " && g++ -O2 -std=gnu++17 a.cpp -o a && ./a",
    "java": "printf 'class A{public static void main(String[] a){System.out.println(\"ok\");}}'"
            " > A.java && javac A.java && jar cf a.jar A.class && java -cp . A",
    "javascript": "node -e 'console.log(\"ok\")'",
    "go": "printf 'package main\\nimport \"fmt\"\\nfunc main(){fmt.Println(\"ok\")}' > a.go"
          " && GOCACHE=/tmp/gocache go build -o a a.go && ./a",
    "rust": "printf 'fn main(){println!(\"ok\");}' > a.rs && rustc -O a.rs -o a && ./a",
}
AGENT_IMPORTS = ("import sys, ctypes, json, resource, selectors, socket; "
                 "print(sys.version_info >= (3, 9))")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A docker client, or skip when no engine answers."""
    try:
        c = images.open_client()
    except BackendUnavailable as e:
        pytest.skip(f"no Docker engine reachable: {e}")
    yield c
    c.close()


@pytest.fixture
def recipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: Any) -> Iterator[Path]:
    """A recipe folder with one runtime, ``tiny``, built on scratch; its images are removed."""
    root = tmp_path / "sandbox_images"
    (root / "tiny").mkdir(parents=True)
    (root / "tiny" / "Dockerfile").write_text(
        "ARG BASE_IMAGE=scratch\nFROM ${BASE_IMAGE}\nCOPY hello.txt /hello.txt\n")
    (root / "tiny" / "hello.txt").write_text("hello\n")
    monkeypatch.setattr(images, "IMAGES_DIR", root)
    yield root
    for image in client.images.list(filters={"label": f"{images.LABEL_RUNTIME}=tiny"}):
        client.images.remove(image.id, force=True)


def test_build_labels_skips_and_resolves(client: Any, recipes: Path) -> None:
    log: list[str] = []
    tag = images.build(client, "tiny", progress=log.append)
    assert tag == images.image_tag("tiny", None)
    assert any("COPY hello.txt" in line for line in log)
    labels = client.images.get(tag).labels
    assert labels[images.LABEL_RUNTIME] == "tiny"
    assert labels[images.LABEL_RECIPE] == images.recipe_hash("tiny")
    assert labels[images.LABEL_BASE] == "scratch"
    again: list[str] = []
    assert images.build(client, "tiny", progress=again.append) == tag
    assert again == [f"{tag} exists; nothing to build"]
    assert images.resolve(client, "tiny") == tag
    (state,) = images.check(client, ["tiny"])
    assert state.state is images.ImageState.CURRENT
    assert [i.tag for i in images.list_images(client) if i.runtime == "tiny"] == [tag]


def test_edited_recipe_makes_the_image_stale(client: Any, recipes: Path) -> None:
    images.build(client, "tiny")
    (recipes / "tiny" / "hello.txt").write_text("changed\n")
    (state,) = images.check(client, ["tiny"])
    assert state.state is images.ImageState.STALE
    with pytest.raises(ImageMissing, match="codeeval images build tiny"):
        images.resolve(client, "tiny")
    rebuilt = images.build(client, "tiny")
    assert images.resolve(client, "tiny") == rebuilt


def test_failed_step_reports_the_log(client: Any, recipes: Path) -> None:
    (recipes / "tiny" / "hello.txt").unlink()
    with pytest.raises(BackendUnavailable, match="building the 'tiny' image failed") as info:
        images.build(client, "tiny")
    assert "hello.txt" in str(info.value)
    assert "COPY hello.txt" in str(info.value)  # the last log lines come along


def test_missing_base_says_how_to_build_without_registry(client: Any, recipes: Path) -> None:
    base = "localhost:1/codeeval-test/no-such-base:1"  # refused at once, no registry lookup
    with pytest.raises(BackendUnavailable, match=r"scripts/build_images\.sh tiny") as info:
        images.build(client, "tiny", base)
    assert f"base image {base!r} is not local" in str(info.value)


def test_cli_check_exit_codes(client: Any, recipes: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["images", "check", "tiny"]) == 1
    assert "codeeval images build tiny" in capsys.readouterr().err
    assert main(["images", "build", "tiny", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == images.image_tag("tiny", None)
    assert main(["images", "check", "tiny"]) == 0
    assert "current" in capsys.readouterr().out
    assert main(["images", "list"]) == 0
    assert images.image_tag("tiny", None) in capsys.readouterr().out


def _image_or_skip(client: Any, runtime: str) -> str:
    try:
        return images.resolve(client, runtime)
    except ImageMissing as e:
        if IN_CI:
            raise
        pytest.skip(str(e))


@pytest.mark.slow
@pytest.mark.parametrize("runtime", sorted(SMOKE))
def test_real_image_runs_its_toolchain_unprivileged(client: Any, runtime: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "IMAGES_DIR", _REAL_RECIPES)
    tag = _image_or_skip(client, runtime)
    script = f"python3 -c '{AGENT_IMPORTS}' && cd /tmp && {SMOKE[runtime]}"
    out = client.containers.run(tag, ["sh", "-c", script], user="65532:65532",
                                network_disabled=True, remove=True, stderr=True,
                                environment={"HOME": "/tmp"})
    assert out.decode().split() == ["True", "ok"]


def test_every_runtime_has_a_current_image_in_ci(client: Any) -> None:
    if not IN_CI:
        pytest.skip("only CI requires every image built (scripts/build_images.sh builds them)")
    states = {c.runtime: c.state for c in images.check(client)}
    assert states == dict.fromkeys(images.RUNTIMES, images.ImageState.CURRENT)

