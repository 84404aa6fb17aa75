"""The pure parts of codeeval.sandbox.docker.images: runtimes, recipe hashes, tags, messages."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from codeeval.cli.main import main
from codeeval.errors import BackendUnavailable, ImageMissing, InputError
from codeeval.sandbox.docker import images

EXPECTED = {"python", "cpp", "java", "javascript", "go", "rust"}


@pytest.fixture
def recipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of sandbox_images/ that tests may edit."""
    root = tmp_path / "sandbox_images"
    shutil.copytree(images.IMAGES_DIR, root)
    monkeypatch.setattr(images, "IMAGES_DIR", root)
    return root


def test_runtimes_are_the_dockerfile_folders() -> None:
    assert set(images.RUNTIMES) == EXPECTED
    assert list(images.RUNTIMES) == sorted(images.RUNTIMES)


@pytest.mark.parametrize("runtime", sorted(EXPECTED))
def test_every_dockerfile_takes_a_base_and_labels_its_runtime(runtime: str) -> None:
    text = (images.IMAGES_DIR / runtime / "Dockerfile").read_text()
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.MULTILINE)
    assert f'LABEL codeeval.runtime="{runtime}"' in text
    assert "python3" in text
    assert ":" in images.default_base(runtime)  # a public image with a version tag


def test_recipe_hash_is_stable_and_short() -> None:
    h = images.recipe_hash("python")
    assert re.fullmatch(r"[0-9a-f]{12}", h)
    assert images.recipe_hash("python") == h
    assert len({images.recipe_hash(rt) for rt in images.RUNTIMES}) == len(images.RUNTIMES)


def test_recipe_hash_changes_with_any_file(recipes: Path) -> None:
    before = images.recipe_hash("cpp")
    dockerfile = recipes / "cpp" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "# a comment\n")
    edited = images.recipe_hash("cpp")
    assert edited != before
    (recipes / "cpp" / "extra.txt").write_text("x")
    added = images.recipe_hash("cpp")
    assert added != edited
    (recipes / "cpp" / "extra.txt").rename(recipes / "cpp" / "other.txt")
    assert images.recipe_hash("cpp") not in {before, edited, added}
    assert images.recipe_hash("python") == images.recipe_hash("python")


def test_tag_format_and_what_it_covers(recipes: Path) -> None:
    default = images.image_tag("go", None)
    assert re.fullmatch(r"codeeval/go:[0-9a-f]{12}", default)
    assert images.image_tag("go", images.default_base("go")) == default
    assert images.image_tag("go", "sha256:" + "0" * 64) != default
    dockerfile = recipes / "go" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "# changed\n")
    assert images.image_tag("go", None) != default


def test_unknown_runtime_is_bad_input() -> None:
    for name in ("cobol", "../python", ".hidden", ""):
        with pytest.raises(InputError, match="unknown runtime"):
            images.recipe_hash(name)


def test_missing_recipes_folder_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "IMAGES_DIR", tmp_path / "nowhere")
    with pytest.raises(BackendUnavailable, match="sandbox_images/ not found"):
        images.recipe_hash("python")


class _Images:
    """Just enough of ``client.images`` for resolve(): label filters over fixed images."""

    def __init__(self, found: list[Any]) -> None:
        self.found = found

    def list(self, filters: dict[str, list[str]]) -> list[Any]:
        wanted = set(filters["label"])
        return [im for im in self.found
                if wanted <= {f"{k}={v}" for k, v in im.labels.items()} | set(im.labels)]


class _Image:
    def __init__(self, runtime: str, recipe: str, created: str) -> None:
        self.labels = {images.LABEL_RUNTIME: runtime, images.LABEL_RECIPE: recipe,
                       images.LABEL_BASE: "base:1"}
        self.tags = [f"codeeval/{runtime}:{recipe}{created[-1]}"]
        self.id = f"sha256:{recipe}{created}"
        self.attrs = {"Created": created, "Size": 1000}


class _Client:
    def __init__(self, found: list[Any]) -> None:
        self.images = _Images(found)


def test_missing_image_message_says_how_to_build() -> None:
    with pytest.raises(ImageMissing) as info:
        images.resolve(_Client([]), "rust")
    message = str(info.value)
    assert "codeeval images build rust" in message
    assert "scripts/build_images.sh rust" in message
    assert "no image exists" in message
    assert isinstance(info.value, BackendUnavailable)


def test_resolve_picks_the_newest_current_image() -> None:
    recipe = images.recipe_hash("cpp")
    client = _Client([_Image("cpp", recipe, "2026-01-01T00:00:01"),
                      _Image("cpp", recipe, "2026-01-02T00:00:02"),
                      _Image("cpp", "000000000000", "2026-01-03T00:00:03"),
                      _Image("java", images.recipe_hash("java"), "2026-01-04T00:00:04")])
    assert images.resolve(client, "cpp") == f"codeeval/cpp:{recipe}2"
    checks = {c.runtime: c for c in images.check(client)}
    assert checks["cpp"].state is images.ImageState.CURRENT
    assert checks["java"].state is images.ImageState.CURRENT
    assert checks["go"].state is images.ImageState.MISSING


def test_only_stale_images_are_not_resolved() -> None:
    client = _Client([_Image("go", "000000000000", "2026-01-03T00:00:03")])
    with pytest.raises(ImageMissing, match="older recipe"):
        images.resolve(client, "go")
    (check,) = images.check(client, ["go"])
    assert check.state is images.ImageState.STALE
    assert check.image is not None
    assert not check.image.current


def test_cli_unknown_runtime_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["images", "build", "cobol"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown runtime 'cobol'" in err


def test_cli_unreachable_engine_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("docker", reason="the docker extra is not installed")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert main(["images", "check"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Docker engine not reachable" in err
    assert "start dockerd" in err
