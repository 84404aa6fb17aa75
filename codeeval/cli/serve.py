"""``codeeval serve``: the reward server (FastAPI on uvicorn; needs ``codeeval[server]``).

Loads the datasets once, computes (or reads from the cache) every reference output in the
background, and serves ``/v1/score``, ``/run_code``, ``/healthz`` and ``/metrics`` (see
:mod:`codeeval.server.app`). SIGTERM or Ctrl-C stops accepting connections, lets requests
in flight finish, then closes the sandboxes. Exit codes: 0 after a clean shutdown; 1 when
the server cannot start (port taken, backend unavailable); 2 bad flags or datasets.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codeeval import config
from codeeval.errors import BackendUnavailable, InputError

#: Items a local server scores at once per core. A run spends much of its life waiting (on
#: its fork, its pipes, the supervisor's bookkeeping), so two per core left a loaded 2-core
#: machine 40% idle (75-82 scorings/s, ``scripts/bench_server.py``); four per core kept it
#: busy (98-111/s). Six per core gave the same throughput with a longer p99, eight a far
#: longer one; and beyond four per core a CPU-bound program gets less than a quarter of a
#: core, so the wall limit (three times the CPU limit plus 1 s) could end a slow but valid
#: program before its CPU limit does.
WORKERS_PER_CORE = 4


def add_parser(subs: Any) -> None:
    """Register the ``serve`` sub-command on ``subs``."""
    p = subs.add_parser("serve", help="run the reward server (HTTP)",
                        description="Serve /v1/score, a SandboxFusion-compatible /run_code, "
                                    "/healthz and /metrics.")
    p.add_argument("--dataset", action="append", default=[], metavar="NAME[=FILE]",
                   help="a dataset to load: humaneval, humaneval+=FILE, mbpp+=FILE or a "
                        "problems directory; repeat for several (items name it by NAME, or "
                        "the directory's name)")
    p.add_argument("--dataset-path", metavar="FILE",
                   help="the file of the one --dataset given (as with codeeval score)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080,
                   help="port (default 8080; 0 picks a free one and prints it)")
    p.add_argument("--backend", help="namespace (default), docker, or local (unsafe)")
    cores = os.cpu_count() or 1
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help=f"programs scored at once (default: {WORKERS_PER_CORE} per core, "
                        f"{WORKERS_PER_CORE * cores}; with "
                        "--executor ray, two per CPU of the cluster)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where items run: local (default), or ray (each item a task on a Ray "
                        "cluster; needs codeeval[ray]); problems and references stay here")
    p.add_argument("--ray-address", metavar="ADDR", default=None,
                   help="with --executor ray: the cluster to join (HOST:PORT, "
                        "ray://HOST:PORT or auto; default: start a local Ray instance)")
    p.add_argument("--long-run", type=float, default=0.25, metavar="S",
                   help="after S seconds a run no longer counts against --workers: the next "
                        "item starts, and the run goes on to its limits (default 0.25; 0: "
                        "runs count until they end)")
    p.add_argument("--max-queue", type=int, default=1024, metavar="N",
                   help="items admitted beyond the workers before answering 429 (default 1024)")
    p.add_argument("--retries", type=int, default=1, metavar="N",
                   help="retries of an item whose sandbox failed, before it is reported as a "
                        "retryable infra error (default 1)")
    p.add_argument("--deadline", type=float, default=300.0, metavar="S",
                   help="default per-request deadline in seconds (default 300)")
    p.add_argument("--drain-timeout", type=float, default=60.0, metavar="S",
                   help="on shutdown, how long requests in flight may take (default 60)")
    p.set_defaults(handler=handle)


def _datasets(args: argparse.Namespace) -> dict[str, list[Any]]:
    from codeeval.cli.score import _load_problems

    specs = args.dataset or []
    if args.dataset_path and len(specs) != 1:
        raise InputError("--dataset-path goes with exactly one --dataset (or write "
                         "--dataset NAME=FILE)")
    loaded: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep and args.dataset_path:
            path = args.dataset_path
        problems = _load_problems(argparse.Namespace(dataset=name, dataset_path=path or None))
        key = name.lower() if name.lower() in ("humaneval", "humaneval+", "mbpp+") else (
            Path(name).resolve().name)
        if key in loaded:
            raise InputError(f"--dataset {spec!r}: a dataset called {key!r} is already loaded")
        loaded[key] = problems
    return loaded


def _graceful_server(uvicorn: Any) -> Any:
    """uvicorn's server, except that SIGTERM and SIGINT end it with a graceful shutdown and
    a normal exit (uvicorn re-raises the signal once it has shut down, so the process
    would die of it)."""

    class Server(uvicorn.Server):  # type: ignore[misc]
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit)
                        for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def handle(args: argparse.Namespace) -> int:
    """Serve until stopped; return the exit code.

    Raises:
        InputError: bad flags or datasets.
    """
    try:
        import uvicorn

        from codeeval.server.app import create_app
        from codeeval.server.engine import Engine, EngineConfig
    except ImportError as e:
        raise InputError(f"codeeval serve needs the server extra: pip install "
                         f"'codeeval[server]' ({e.name} is missing)") from None
    for flag, value, low in (("--workers", args.workers, 1), ("--max-queue", args.max_queue, 0),
                             ("--retries", args.retries, 0)):
        if value is not None and value < low:
            raise InputError(f"{flag} must be at least {low}, got {value}")
    if args.ray_address is not None and args.executor != "ray":
        raise InputError("--ray-address needs --executor ray")
    if not args.long_run >= 0:
        raise InputError(f"--long-run must be 0 or more, got {args.long_run}")
    if not args.deadline > 0:
        raise InputError(f"--deadline must be positive, got {args.deadline}")
    if not 0 <= args.port < 65536:
        raise InputError(f"--port {args.port} is not a port number")
    datasets = _datasets(args)
    base = config.settings()
    runner: Any = None
    if args.executor == "ray":
        from codeeval.distributed.ray_executor import RayExecutor, RayItemRunner

        runner = RayItemRunner(RayExecutor(args.ray_address, args.backend, base))
    try:
        if runner is not None:
            # Connect first: an unreachable cluster stops the server at once with one line.
            runner.start()
        workers = args.workers or (runner.slots() if runner is not None
                                   else WORKERS_PER_CORE * (os.cpu_count() or 1))
        # Keep a ready sandbox for every worker (local items; references and /run_code).
        settings = dataclasses.replace(base, prespawn=max(base.prespawn, workers))
        from codeeval.sandbox import open_backend

        # Opened here, so that an unusable backend stops the server at once with one line.
        backend = open_backend(args.backend, settings)
        engine = Engine(datasets, lambda: backend,
                        EngineConfig(workers=workers, max_queue=args.max_queue,
                                     retries=args.retries, default_deadline_s=args.deadline,
                                     long_run_s=args.long_run,
                                     cache_dir=Path(settings.cache),
                                     load_jobs=max(2, os.cpu_count() or 1)),
                        **({"runner": runner} if runner is not None else {}))
        try:
            sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((args.host, args.port))
        except OSError as e:
            backend.close()
            raise BackendUnavailable(f"cannot listen on {args.host}:{args.port}: {e}") from None
        host, port = sock.getsockname()[:2]
        app = create_app(engine, drain_timeout_s=args.drain_timeout)
        server = _graceful_server(uvicorn)(uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on",
            timeout_graceful_shutdown=int(args.drain_timeout) or None))
        names = ", ".join(f"{k} ({len(v)} problems)" for k, v in datasets.items()) or "none"
        where = f"; items on Ray, {runner.executor.cpus} CPUs" if runner is not None else ""
        print(f"codeeval: serving on http://{host}:{port} (datasets: {names}; "
              f"{workers} workers{where})", file=sys.stderr, flush=True)
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
    finally:
        if runner is not None:
            runner.close()
    if engine.state == "failed":
        print(f"codeeval: error: the server failed to start: {engine.error}", file=sys.stderr)
        return 1
    return 0
