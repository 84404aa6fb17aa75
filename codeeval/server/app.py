"""The HTTP surface of ``codeeval serve`` (FastAPI): thin handlers over :class:`Engine`.

``POST /v1/score``   score a batch of items (:mod:`codeeval.server.schemas`)
``POST /run_code``   run one program, request and response shaped like SandboxFusion's
``GET  /healthz``    200 when ready; 503 while loading, draining, or when start-up failed
``GET  /metrics``    Prometheus text (:mod:`codeeval.server.metrics`)

Status codes: 200 with per-item results (an item's own error is in its result); 422 for a
malformed request; 429 with ``Retry-After`` when the queue is full (nothing was started);
503 with ``Retry-After`` while the server is not ready. 429 and 503 are retryable; the
client (:mod:`codeeval.client`) retries them with backoff.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from codeeval import __version__
from codeeval.errors import InputError, SandboxError
from codeeval.server.engine import Engine, NotReady, QueueFull
from codeeval.server.metrics import CONTENT_TYPE
from codeeval.server.runcode import RunCodeRequest, run_code, sandbox_error_response
from codeeval.server.schemas import ScoreRequest


def create_app(engine: Engine, *, drain_timeout_s: float | None = None) -> FastAPI:
    """The application serving ``engine``; it starts the engine (loading problems in the
    background) and closes it, after in-flight requests, when the server shuts down."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        del app
        engine.start()
        yield
        await asyncio.to_thread(engine.close, drain_timeout_s)

    app = FastAPI(title="codeeval", version=__version__, lifespan=lifespan,
                  docs_url="/docs", redoc_url=None)
    metrics = engine.metrics

    def refused(endpoint: str, started: float, e: Exception) -> Response:
        if isinstance(e, QueueFull):
            code, retry, kind = 429, e.retry_after_s, "queue_full"
        else:
            code, retry, kind = 503, 1, "not_ready"
        if engine.state == "failed":
            kind = "failed"
        record(endpoint, code, started)
        return JSONResponse({"error": kind, "message": str(e), "retryable": True},
                            status_code=code, headers={"Retry-After": str(retry)})

    def record(endpoint: str, code: int, started: float) -> None:
        metrics.requests.labels(endpoint, str(code)).inc()
        metrics.request_seconds.labels(endpoint).observe(time.monotonic() - started)

    @app.post("/v1/score")
    async def score(request: ScoreRequest) -> Response:
        started = time.monotonic()
        try:
            response = await engine.score(request)
        except (QueueFull, NotReady) as e:
            return refused("score", started, e)
        record("score", 200, started)
        return Response(response.model_dump_json(), media_type="application/json")

    @app.post("/run_code")
    async def run_code_route(request: RunCodeRequest) -> Response:
        started = time.monotonic()
        try:
            result = await engine.call(lambda backend: run_code(backend, request))
        except (QueueFull, NotReady) as e:
            return refused("run_code", started, e)
        except InputError as e:
            record("run_code", 400, started)
            return JSONResponse({"error": "bad_request", "message": str(e),
                                 "retryable": False}, status_code=400)
        except SandboxError as e:
            # The sandbox broke, not the program: SandboxFusion's own "SandboxError" shape,
            # with a 503 so that HTTP-level retries fire too.
            record("run_code", 503, started)
            return Response(sandbox_error_response(str(e)).model_dump_json(),
                            status_code=503, media_type="application/json",
                            headers={"Retry-After": "1"})
        record("run_code", 200, started)
        return Response(result.model_dump_json(), media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        report = engine.health()
        return JSONResponse(report, status_code=200 if engine.state == "ready" else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return app
