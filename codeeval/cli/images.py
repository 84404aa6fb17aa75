"""``codeeval images build|list|check``: the docker backend's sandbox images.

``build [RUNTIME...] [--base-image REF]`` builds ``sandbox_images/<runtime>/Dockerfile`` for
each runtime (default: all), skipping those whose content-hash tag already exists, and prints
one tag per line on stdout (the build log goes to stderr). ``list`` prints every image codeeval
built; ``check`` prints each runtime's state and exits 1 when one is missing or stale.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def add_parser(subs: Any) -> None:
    """Register the ``images`` sub-command (with ``build``, ``list`` and ``check``) on ``subs``."""
    p = subs.add_parser("images", help="build, list or check the docker backend's images",
                        description="Build, list or check the sandbox images of the docker "
                                    "backend (recipes in sandbox_images/).")
    actions = p.add_subparsers(dest="images_action", metavar="ACTION",
                               parser_class=type(p))
    b = actions.add_parser("build", help="build images (skips those already built)",
                           description="Build sandbox images; a runtime whose tag (a hash of "
                                       "its recipe and base) exists is skipped.")
    b.add_argument("runtimes", nargs="*", metavar="RUNTIME",
                   help="runtimes to build (default: all folders of sandbox_images/)")
    b.add_argument("--base-image", metavar="REF",
                   help="base image for every runtime built (default: each Dockerfile's "
                        "BASE_IMAGE, a public image)")
    b.add_argument("--force", action="store_true", help="build even when the tag exists")
    b.add_argument("--quiet", action="store_true", help="do not show the build log")
    actions.add_parser("list", help="list the images codeeval built",
                       description="List the images codeeval built, newest first.")
    c = actions.add_parser("check", help="is every runtime's image current? (exit 1 if not)",
                           description="Show whether each runtime's image is built from the "
                                       "current recipe; exit 1 when one is missing or stale.")
    c.add_argument("runtimes", nargs="*", metavar="RUNTIME",
                   help="runtimes to check (default: all)")
    p.set_defaults(handler=handle, images_parser=p)


def handle(args: argparse.Namespace) -> int:
    """Run the chosen action; return 0, or 1 when ``check`` finds a missing or stale image.

    Raises:
        InputError: an unknown runtime.
        BackendUnavailable: the engine does not answer, or a build failed.
    """
    from codeeval.sandbox.docker import images

    if args.images_action is None:
        args.images_parser.print_help(sys.stderr)
        return 2
    for runtime in getattr(args, "runtimes", []):
        images.recipe_dir(runtime)  # unknown names are bad input, before touching docker
    client = images.open_client()
    try:
        if args.images_action == "build":
            return _build(images, client, args)
        if args.images_action == "list":
            return _list(images, client)
        return _check(images, client, args.runtimes or None)
    finally:
        client.close()


def _build(images: Any, client: Any, args: argparse.Namespace) -> int:
    def show(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    for runtime in args.runtimes or images.RUNTIMES:
        print(f"== {runtime}", file=sys.stderr, flush=True)
        tag = images.build(client, runtime, args.base_image, force=args.force,
                           progress=None if args.quiet else show)
        print(tag, flush=True)
    return 0


def _size(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def _list(images: Any, client: Any) -> int:
    rows = [(i.runtime, i.tag, "current" if i.current else "stale", _size(i.size_bytes),
             i.created[:19].replace("T", " "), i.base) for i in images.list_images(client)]
    _table(("RUNTIME", "TAG", "RECIPE", "SIZE", "CREATED", "BASE"), rows)
    return 0


def _check(images: Any, client: Any, runtimes: list[str] | None) -> int:
    results = images.check(client, runtimes)
    rows = []
    for r in results:
        img = r.image
        rows.append((r.runtime, r.state.value, img.tag if img else "-",
                     _size(img.size_bytes) if img else "-"))
    _table(("RUNTIME", "STATE", "IMAGE", "SIZE"), rows)
    bad = [r.runtime for r in results if r.state is not images.ImageState.CURRENT]
    if bad:
        print(f"codeeval: {len(bad)} image(s) missing or stale: {', '.join(bad)}; build with "
              f"'codeeval images build {' '.join(bad)}' (or 'scripts/build_images.sh "
              f"{' '.join(bad)}' where no registry is reachable)", file=sys.stderr)
        return 1
    return 0


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
