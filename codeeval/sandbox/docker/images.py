"""Sandbox images: the recipes in ``sandbox_images/``, their content-hash tags, build and lookup.

Each folder of ``sandbox_images/`` that holds a ``Dockerfile`` is one *runtime* (``python``,
``cpp``, ...). Its Dockerfile starts ``ARG BASE_IMAGE=<public image>`` / ``FROM ${BASE_IMAGE}``,
so the same recipe builds on the usual public image where a registry is reachable, and on a
base made from Debian packages where none is (``scripts/build_images.sh``).

Specs are data, keys are content hashes:

- :func:`recipe_hash` covers the runtime's folder (file names and bytes);
- :func:`image_tag` is ``codeeval/<runtime>:<hash of recipe and base>``, where the base counts
  by its image id when it is local (so rebuilding a base under the same name changes the tag);
- every built image carries the labels ``codeeval.runtime``, ``codeeval.recipe`` and
  ``codeeval.base``; :func:`resolve` finds the image for a runtime by those labels, so the
  docker backend never needs to know which base an image was built on.

The ``docker`` SDK is imported lazily (the ``docker`` extra). Its errors are translated here,
at the boundary: an unreachable engine, a missing image and a failed build all raise
:class:`~codeeval.errors.BackendUnavailable` (or its subclass
:class:`~codeeval.errors.ImageMissing`) with a message that says what to do; an unknown
runtime name raises :class:`~codeeval.errors.InputError`.
"""

from __future__ import annotations

import enum
import gc
import hashlib
import re
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import codeeval
from codeeval.errors import BackendUnavailable, ImageMissing, InputError

#: A ``docker.DockerClient`` (typed loosely: the SDK is an optional extra without type hints).
Client = Any

#: Where the recipes live: next to the ``codeeval`` package in a source checkout.
IMAGES_DIR = Path(codeeval.__file__).resolve().parent.parent / "sandbox_images"

#: Repository prefix of every image codeeval builds: ``codeeval/<runtime>:<hash>``.
REPOSITORY = "codeeval"

LABEL_RUNTIME = "codeeval.runtime"
LABEL_RECIPE = "codeeval.recipe"
LABEL_BASE = "codeeval.base"

_HASH_LEN = 12
_BUILD_TIMEOUT_S = 3600
_LOG_TAIL = 15
_ARG_BASE = re.compile(r"^\s*ARG\s+BASE_IMAGE=(\S+)\s*$", re.MULTILINE)
_UNREACHABLE_HINT = "start dockerd, or set DOCKER_HOST"


def _find_runtimes(root: Path) -> tuple[str, ...]:
    if not root.is_dir():
        return ()
    return tuple(sorted(p.name for p in root.iterdir() if (p / "Dockerfile").is_file()))


#: Runtime names: the folders of ``sandbox_images/`` that contain a Dockerfile (empty when the
#: folder is not there, e.g. in a non-editable install; :func:`recipe_dir` then raises).
RUNTIMES: tuple[str, ...] = _find_runtimes(IMAGES_DIR)


class ImageState(enum.Enum):
    """How the local images of one runtime compare with its recipe."""

    CURRENT = "current"  #: an image built from the current recipe exists
    STALE = "stale"  #: only images built from an older recipe exist
    MISSING = "missing"  #: no image of this runtime exists


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """One local image built by codeeval (found by its labels)."""

    runtime: str
    tag: str  #: ``codeeval/<runtime>:<hash>``, or the image id when it lost its tag
    image_id: str
    recipe: str  #: the recipe hash it was built from
    base: str  #: the base image reference it was built on
    created: str  #: ISO-8601 creation time, as the engine reports it
    size_bytes: int
    current: bool  #: built from the current recipe


@dataclass(frozen=True, slots=True)
class RuntimeCheck:
    """The state of one runtime's image; ``image`` is the newest one, if any."""

    runtime: str
    state: ImageState
    image: ImageInfo | None


def recipe_dir(runtime: str) -> Path:
    """Return the folder of ``sandbox_images/`` that holds the runtime's Dockerfile.

    Raises:
        BackendUnavailable: ``sandbox_images/`` is not next to the ``codeeval`` package.
        InputError: no such runtime.
    """
    if not IMAGES_DIR.is_dir():
        raise BackendUnavailable(
            f"sandbox_images/ not found at {IMAGES_DIR}: image recipes ship with the source "
            "checkout (install codeeval from it with pip install -e)")
    folder = IMAGES_DIR / runtime
    if "/" in runtime or runtime.startswith(".") or not (folder / "Dockerfile").is_file():
        known = ", ".join(_find_runtimes(IMAGES_DIR)) or "none"
        raise InputError(f"unknown runtime {runtime!r} (sandbox_images/ has: {known})")
    return folder


def recipe_hash(runtime: str) -> str:
    """Return the first 12 hex digits of a SHA-256 over the runtime's folder.

    Every regular file counts, by its path relative to the folder and its bytes, in sorted
    order, so renaming, editing, adding or removing a file changes the hash.

    Raises:
        BackendUnavailable: ``sandbox_images/`` is missing.
        InputError: no such runtime.
    """
    folder = recipe_dir(runtime)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix().encode()
        data = path.read_bytes()
        digest.update(b"%d:%s\0%d:" % (len(name), name, len(data)))
        digest.update(data)
    return digest.hexdigest()[:_HASH_LEN]


def default_base(runtime: str) -> str:
    """Return the ``BASE_IMAGE`` default declared in the runtime's Dockerfile.

    Raises:
        BackendUnavailable: ``sandbox_images/`` is missing, or the Dockerfile declares no
            ``ARG BASE_IMAGE=<image>``.
        InputError: no such runtime.
    """
    dockerfile = recipe_dir(runtime) / "Dockerfile"
    match = _ARG_BASE.search(dockerfile.read_text())
    if match is None:
        raise BackendUnavailable(f"{dockerfile} declares no 'ARG BASE_IMAGE=<image>'")
    return match.group(1)


def image_tag(runtime: str, base_image: str | None) -> str:
    """Return ``codeeval/<runtime>:<hash>`` for the recipe built on ``base_image``.

    Args:
        runtime: a runtime name (a folder of ``sandbox_images/``).
        base_image: what identifies the base: its image id when it is local, else its
            reference; ``None`` means the Dockerfile's default base reference.

    Raises:
        BackendUnavailable: ``sandbox_images/`` is missing.
        InputError: no such runtime.
    """
    base = base_image if base_image is not None else default_base(runtime)
    key = f"{recipe_hash(runtime)}\0{base}".encode()
    return f"{REPOSITORY}/{runtime}:{hashlib.sha256(key).hexdigest()[:_HASH_LEN]}"


def build_hint(runtime: str) -> str:
    """Return the sentence that tells a user how to build the runtime's image."""
    return (f"build it with 'codeeval images build {runtime}', or, where no registry is "
            f"reachable, 'scripts/build_images.sh {runtime}'")


# --- the engine ------------------------------------------------------------------------------


def open_client() -> Client:
    """Return a ``docker.DockerClient`` for the engine the environment points at.

    Raises:
        BackendUnavailable: the ``docker`` extra is not installed, or the engine does not
            answer.
    """
    try:
        import docker  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise BackendUnavailable(
            "the docker backend needs the docker SDK: pip install 'codeeval[docker]'") from None
    failure: BackendUnavailable | None = None
    # docker-py leaves the socket of a failed connection to the garbage collector, which
    # would warn (ResourceWarning) wherever that happens to run; it happens here instead.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env()
            client.ping()
        except docker.errors.DockerException as e:
            failure = _unreachable(e)
        if failure is not None:
            gc.collect()
    if failure is not None:
        raise failure
    return client


def _unreachable(error: Exception) -> BackendUnavailable:
    detail = " ".join(str(error).split()) or type(error).__name__
    return BackendUnavailable(f"Docker engine not reachable: {detail} ({_UNREACHABLE_HINT})")


def _docker_errors() -> Any:
    import docker.errors  # type: ignore[import-untyped, unused-ignore]

    return docker.errors


def _local_id(client: Client, ref: str) -> str | None:
    """Return the id of the local image ``ref``, or None when there is none."""
    errors = _docker_errors()
    try:
        return str(client.images.get(ref).id)
    except errors.ImageNotFound:
        return None
    except errors.APIError as e:
        if getattr(e, "status_code", None) == 404:
            return None
        raise _unreachable(e) from None
    except errors.DockerException as e:
        raise _unreachable(e) from None


def _labelled(client: Client, runtime: str | None, recipe: str | None = None) -> list[Any]:
    labels = [f"{LABEL_RUNTIME}={runtime}" if runtime else LABEL_RUNTIME]
    if recipe is not None:
        labels.append(f"{LABEL_RECIPE}={recipe}")
    try:
        images: list[Any] = client.images.list(filters={"label": labels})
    except _docker_errors().DockerException as e:
        raise _unreachable(e) from None
    return sorted(images, key=lambda im: str(im.attrs.get("Created", "")), reverse=True)


def _info(image: Any, recipes: dict[str, str]) -> ImageInfo:
    labels: dict[str, str] = image.labels or {}
    runtime = labels.get(LABEL_RUNTIME, "?")
    tags = [t for t in (image.tags or []) if t.startswith(f"{REPOSITORY}/{runtime}:")]
    recipe = labels.get(LABEL_RECIPE, "")
    return ImageInfo(
        runtime=runtime,
        tag=tags[0] if tags else str(image.id),
        image_id=str(image.id),
        recipe=recipe,
        base=labels.get(LABEL_BASE, ""),
        created=str(image.attrs.get("Created", "")),
        size_bytes=int(image.attrs.get("Size", 0) or 0),
        current=recipes.get(runtime) == recipe,
    )


def resolve(client: Client, runtime: str) -> str:
    """Return the image the docker backend should run for ``runtime``.

    That is the newest local image labelled with the runtime and its current recipe hash,
    named by its ``codeeval/<runtime>:<hash>`` tag (or its id if it has no such tag).

    Raises:
        ImageMissing: no image of the current recipe exists; the message says how to build it.
        BackendUnavailable: the engine does not answer, or ``sandbox_images/`` is missing.
        InputError: no such runtime.
    """
    recipe = recipe_hash(runtime)
    images = _labelled(client, runtime, recipe)
    if not images:
        stale = _labelled(client, runtime)
        why = "only images of an older recipe exist" if stale else "no image exists"
        raise ImageMissing(f"no sandbox image for runtime {runtime!r} "
                           f"(recipe {recipe}; {why}): {build_hint(runtime)}")
    return _info(images[0], {runtime: recipe}).tag


def list_images(client: Client) -> list[ImageInfo]:
    """Return every local image built by codeeval, newest first.

    Raises:
        BackendUnavailable: the engine does not answer.
    """
    recipes = {rt: recipe_hash(rt) for rt in _find_runtimes(IMAGES_DIR)}
    return [_info(image, recipes) for image in _labelled(client, None)]


def check(client: Client, runtimes: Iterable[str] | None = None) -> list[RuntimeCheck]:
    """Return, per runtime (default: all), whether its image is current, stale or missing.

    Raises:
        BackendUnavailable: the engine does not answer, or ``sandbox_images/`` is missing.
        InputError: an unknown runtime name.
    """
    names = list(runtimes) if runtimes is not None else list(_find_runtimes(IMAGES_DIR))
    recipes = {rt: recipe_hash(rt) for rt in names}
    infos = list_images(client)
    out = []
    for rt in names:
        mine = [i for i in infos if i.runtime == rt]
        current = [i for i in mine if i.recipe == recipes[rt]]
        if current:
            out.append(RuntimeCheck(rt, ImageState.CURRENT, current[0]))
        elif mine:
            out.append(RuntimeCheck(rt, ImageState.STALE, mine[0]))
        else:
            out.append(RuntimeCheck(rt, ImageState.MISSING, None))
    return out


def build(client: Client, runtime: str, base_image: str | None = None, *,
          progress: Callable[[str], None] | None = None, force: bool = False) -> str:
    """Build the runtime's image (unless its tag exists) and return its tag.

    Args:
        client: a ``docker.DockerClient``.
        runtime: a runtime name.
        base_image: the base to build on (``BASE_IMAGE``); ``None`` means the Dockerfile's
            default public image, pulled by the engine if it is not local.
        progress: called with each line of the build log.
        force: build even when the tag already exists.

    Raises:
        BackendUnavailable: the engine does not answer, the base is neither local nor
            pullable, or a build step failed (the message ends with the last log lines).
        InputError: no such runtime.
    """
    folder = recipe_dir(runtime)
    base_ref = base_image if base_image is not None else default_base(runtime)
    base_id = _local_id(client, base_ref)
    tag = image_tag(runtime, base_id or base_ref)
    say = progress or (lambda _line: None)
    if not force and _local_id(client, tag) is not None:
        say(f"{tag} exists; nothing to build")
        return tag
    recipe = recipe_hash(runtime)
    labels = {LABEL_RUNTIME: runtime, LABEL_RECIPE: recipe, LABEL_BASE: base_ref}
    errors = _docker_errors()
    tail: deque[str] = deque(maxlen=_LOG_TAIL)
    try:
        stream = client.api.build(
            path=str(folder), tag=tag, buildargs={"BASE_IMAGE": base_ref}, labels=labels,
            pull=False, rm=True, forcerm=True, decode=True, timeout=_BUILD_TIMEOUT_S)
        for line in _log_lines(stream):
            tail.append(line)
            say(line)
    except BuildStepFailed as e:
        raise _build_failed(runtime, base_ref, base_id, str(e), tail) from None
    except errors.APIError as e:
        raise _build_failed(runtime, base_ref, base_id, _explain(e), tail) from None
    except errors.DockerException as e:
        raise _unreachable(e) from None
    if _local_id(client, tag) is None:
        raise BackendUnavailable(f"building {tag} ended without an image; last lines:\n"
                                 + "\n".join(tail))
    return tag


class BuildStepFailed(Exception):
    """Internal: the build stream reported an error (translated by :func:`build`)."""


def _log_lines(stream: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Yield the readable lines of a decoded build stream; raise on its error record.

    The stream is read to its end even after an error, so that the SDK closes the response.
    """
    error: str | None = None
    for record in stream:
        if "error" in record:
            detail = record.get("errorDetail") or {}
            error = error or str(detail.get("message") or record["error"]).strip()
            continue
        text = record.get("stream")
        if text is None and "status" in record:
            text = " ".join(str(record[k]) for k in ("status", "id") if record.get(k))
        if text:
            for line in str(text).splitlines():
                if line.strip():
                    yield line.rstrip()
    if error is not None:
        raise BuildStepFailed(error)


def _explain(error: Any) -> str:
    explanation = getattr(error, "explanation", None)
    return " ".join(str(explanation or error).split())


def _build_failed(runtime: str, base_ref: str, base_id: str | None, detail: str,
                  tail: Iterable[str]) -> BackendUnavailable:
    lines = [line for line in tail if line.strip() != detail][-_LOG_TAIL:]
    log = "".join(f"\n  | {line}" for line in lines)
    steps = [line for line in lines if line.startswith("Step ")]
    if base_id is None and (not steps or " FROM " in steps[-1]):
        # The FROM step failed: the base is not local and could not be pulled.
        return BackendUnavailable(
            f"cannot build {runtime!r}: base image {base_ref!r} is not local and could not be "
            f"pulled ({detail}); where no registry is reachable, build on a Debian base with "
            f"'scripts/build_images.sh {runtime}'{log}")
    return BackendUnavailable(f"building the {runtime!r} image failed: {detail}{log}")
