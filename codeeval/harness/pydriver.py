"""The in-sandbox driver for call-based Python problems. Runs INSIDE the sandbox.

This file is copied into each sandbox as ``driver.py`` next to ``candidate.py`` and run
with the candidate's interpreter; it imports nothing from codeeval. Protocol, one JSON line
per message on the channel named by ``CODEEVAL_CHANNEL``:

1. host -> driver: ``{"entry": NAME, "path": [site-packages dirs], "digest_over": BYTES}``;
   the driver executes ``candidate.py`` once and answers ``{"ready": true}`` or
   ``{"load_error": "..."}``. With ``digest_over`` (0: never), a result whose text is at
   least that long is sent as ``{"$digest": SHA-256, "size": N}`` (see ``digested``).
2. host -> driver: ``{"tests": [ARGS, ...]}`` (each ARGS a tagged list of arguments); the
   driver calls the entry point on each in order and answers with batches of results,
   ``{"r": [RESULT, ...]}``, each RESULT ``{"i": N, "ok": VALUE, "t": SECONDS}`` or
   ``{"i": N, "exc": "Type: message"}``. A batch goes out at most FLUSH_S after the
   previous one (checked after each call, and by a timer while a call runs long), so the
   host sees progress promptly and blames a call that hangs, not the ones before it. The
   host may kill the sandbox at any point (first failure, time limit).

The candidate shares this process, so it can tamper with anything here; that can only make
its own results wrong, since expected outputs never enter the sandbox. Values are encoded
by type (see ``codeeval.harness.values``): builtins as themselves, subclasses of builtins as
their base value (read with the base class's methods), anything else as
``{"$opaque": type name}``.
"""

from __future__ import annotations

import _json  # the C accelerator: importing ``json`` would pull in ``re`` (~9 ms per run)
import hashlib
import os
import sys
import time
from typing import Any

_type = type
_len = len
_perf = time.perf_counter
_BIG = 1 << 1000
_SCALARS = frozenset({float, str, bool, type(None)})
_NUMBERS = frozenset({int, float, bool})
#: Results are sent in batches: at the latest FLUSH_S after the previous batch (checked
#: after each call) or every FLUSH_COUNT results, and at the end of the tests.
FLUSH_S = 0.005
FLUSH_COUNT = 256


def _name(t: type) -> str:
    return getattr(t, "__module__", "?") + "." + getattr(t, "__qualname__", "?")


def _plain(v: list[Any] | tuple[Any, ...]) -> bool:
    """Whether a list or tuple holds only plain scalars (the common large output), whose
    elements are their own encoding; checked at C speed: element types, then the range of
    ints (huge ones need the $int tag)."""
    kinds = set(map(_type, v))
    return kinds <= _SCALARS or (kinds <= _NUMBERS and min(v) > -_BIG and max(v) < _BIG)


def encode(v: Any, depth: int = 0) -> Any:
    t = _type(v)
    if depth > 500:
        return {"$opaque": "value nested too deep"}
    d = depth + 1
    if v is None or t is bool or t is str or t is float:
        return v
    if t is int:
        return v if -_BIG < v < _BIG else {"$int": hex(v)}
    if t is list:
        return v if _plain(v) else [encode(x, d) for x in v]
    if t is tuple:
        return {"$tuple": list(v) if _plain(v) else [encode(x, d) for x in v]}
    if t is set:
        return {"$set": [encode(x, d) for x in v]}
    if t is frozenset:
        return {"$frozenset": [encode(x, d) for x in v]}
    if t is dict:
        return {"$dict": [[encode(k, d), encode(x, d)] for k, x in v.items()]}
    if t is bytes:
        return {"$bytes": v.decode("latin-1")}
    if t is bytearray:
        return {"$bytearray": bytes(v).decode("latin-1")}
    if t is complex:
        return {"$complex": [v.real, v.imag]}
    # Subclasses of builtins (Counter, OrderedDict, namedtuple, an int subclass, ...) are
    # sent as their base value, read with the base class's own methods, so an overridden
    # __eq__, __iter__ or __repr__ changes nothing: the host compares values, not objects.
    if isinstance(v, dict):
        return {"$dict": [[encode(k, d), encode(x, d)] for k, x in dict.items(v)]}
    if isinstance(v, tuple):
        return {"$tuple": [encode(x, d) for x in tuple.__iter__(v)]}
    if isinstance(v, list):
        return [encode(x, d) for x in list.__iter__(v)]
    if isinstance(v, frozenset):
        return {"$frozenset": [encode(x, d) for x in frozenset.__iter__(v)]}
    if isinstance(v, set):
        return {"$set": [encode(x, d) for x in set.__iter__(v)]}
    if isinstance(v, int):
        return encode(int.__index__(v), d)
    if isinstance(v, float):
        return float.__float__(v)
    if isinstance(v, str):
        return str.__str__(v)
    return {"$opaque": _name(t)}


def decode(v: Any) -> Any:
    if isinstance(v, list):
        return [decode(x) for x in v]
    if not isinstance(v, dict):
        return v
    (tag, body), = v.items()
    if tag == "$tuple":
        return tuple(decode(x) for x in body)
    if tag == "$set":
        return {decode(x) for x in body}
    if tag == "$frozenset":
        return frozenset(decode(x) for x in body)
    if tag == "$dict":
        return {decode(k): decode(x) for k, x in body}
    if tag == "$bytes":
        return body.encode("latin-1")
    if tag == "$bytearray":
        return bytearray(body.encode("latin-1"))
    if tag == "$complex":
        return complex(body[0], body[1])
    if tag == "$int":
        return int(body, 16)
    raise ValueError("unknown tag " + tag)


class _ScanContext:
    """What the C scanner reads from ``json.JSONDecoder``; NaN and infinities allowed."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    def __init__(self) -> None:
        self.memo: dict[str, str] = {}
        self.parse_constant = {"NaN": float("nan"), "Infinity": float("inf"),
                               "-Infinity": float("-inf")}.__getitem__


_context = _ScanContext()
_scan = _json.make_scanner(_context)  # type: ignore[arg-type]


def loads(text: str) -> Any:
    try:
        value, _ = _scan(text, 0)
    except StopIteration as e:
        raise ValueError("not JSON at position " + str(e.value)) from None
    finally:
        _context.memo.clear()
    return value


def _refuse(obj: Any) -> Any:
    raise TypeError("not JSON-serialisable: " + _name(_type(obj)))


_encoder = _json.make_encoder(None, _refuse, _json.encode_basestring_ascii, None, ":", ",",
                              False, False, True)


def dumps(obj: Any) -> str:
    return "".join(_encoder(obj, 0))


_UNORDERED = ('"$set"', '"$frozenset"', '"$dict"')
_sha256 = hashlib.sha256


def _canonical(v: Any) -> Any:
    """``v`` (encoded) with the members of sets and dicts in a fixed order, so that equal
    values have equal text whatever order they were built in."""
    if _type(v) is list:
        return [_canonical(x) for x in v]
    if _type(v) is not dict:
        return v
    (tag, body), = v.items()
    if tag in ("$set", "$frozenset"):
        return {tag: sorted((_canonical(x) for x in body), key=dumps)}
    if tag == "$dict":
        return {tag: sorted(([_canonical(k), _canonical(x)] for k, x in body),
                            key=lambda kv: dumps(kv[0]))}
    if tag == "$tuple":
        return {tag: [_canonical(x) for x in body]}
    return v


def digested(result: Any, encoded: Any, over: int) -> Any:
    """A digest in place of a large result: ``{"$digest": sha256 of its canonical text}``.

    Only for results of at least ``over`` bytes of text (0: never), and never for a float
    or a list of floats, which the host compares with a tolerance. Equal values have equal
    text, so their digests are equal; the host compares digests with digests.
    """
    t = _type(result)
    if not over or t not in (list, tuple, dict, set, frozenset, str, bytes):
        return encoded
    if _len(result) < (over if t in (str, bytes) else 64):
        return encoded
    if t is list and set(map(_type, result)) == {float}:
        return encoded
    text = dumps(encoded)
    if _len(text) < over:
        return encoded
    if any(tag in text for tag in _UNORDERED):
        text = dumps(_canonical(encoded))
    return {"$digest": _sha256(text.encode()).hexdigest(), "size": _len(text)}


def main() -> None:
    rfd, wfd = (int(x) for x in os.environ["CODEEVAL_CHANNEL"].split(","))
    inp = os.fdopen(rfd, "rb")
    out = os.fdopen(wfd, "wb", buffering=0)
    write = out.write

    def send(obj: dict[str, Any]) -> None:
        try:
            line = dumps(obj)
        except (ValueError, TypeError, RecursionError) as e:
            # One result could not be written as JSON (e.g. a float subclass made it
            # through): report every result of the batch as unencodable rather than none.
            items = obj.get("r", [])
            line = dumps({"r": [{"i": r.get("i"), "exc": "unencodable result: " + str(e)[:200]}
                                for r in items]} if items else {"load_error": str(e)[:200]})
        # A signal (the flush timer's) can cut a write to the pipe short: write the rest.
        data = memoryview(line.encode() + b"\n")
        while data:
            data = data[write(data) or 0:]

    # The candidate's own stdio must not disturb anything: it reads EOF, and what it prints
    # goes nowhere (errors reach the host through the channel).
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)

    header = loads(inp.readline().decode())
    entry = header["entry"]
    over = int(header.get("digest_over", 0))
    # Started with -S: add site-packages (without .pth processing) and the exit/quit
    # builtins that the site module would have provided.
    # The host names its interpreter's directories; this interpreter's own (inside an
    # image, say) come from site.getsitepackages(), which computes them without side effects
    # when started with -S.
    import site

    for p in [*header.get("path", ()), *site.getsitepackages()]:
        if p not in sys.path and os.path.isdir(p):
            sys.path.append(p)
    import builtins

    def _exit(code: Any = None) -> None:
        raise SystemExit(code)

    builtins.exit = builtins.quit = _exit  # type: ignore[assignment]
    # Before the candidate loads, so that a SIGALRM handler it installs is its own.
    pending: list[dict[str, Any]] = []  # results not sent yet
    state = [False, _perf()]  # inside a call?, when results were last sent

    def flush() -> None:
        if pending:
            send({"r": pending[:]})
            pending.clear()
        state[1] = _perf()

    timer = _Timer(flush, state)
    namespace: dict[str, Any] = {"__name__": "__candidate__", "__file__": "candidate.py"}
    try:
        with open("candidate.py", encoding="utf-8") as f:
            source = f.read()
        exec(compile(source, "candidate.py", "exec"), namespace)
        fn = namespace[entry]
        if not callable(fn):
            raise TypeError(entry + " is not callable")
    except BaseException as e:
        send({"load_error": _type(e).__name__ + ": " + str(e)[:500]})
        return
    send({"ready": True})
    for line in inp:
        message = loads(line.decode())
        tests = message["tests"]
        # The host times a batch by the budget of its first unreported call, so results are
        # flushed before any call whose budget differs from the previous one.
        flush_before = set(message.get("flush_before", ()))
        state[1] = _perf()
        for i in range(_len(tests)):
            if pending and i in flush_before:
                flush()
            args = decode(tests[i])
            if pending:
                timer.arm()
            try:
                state[0] = True
                t0 = _perf()
                result = fn(*args)
                elapsed = _perf() - t0
                state[0] = False
                try:
                    encoded = digested(result, encode(result), over)
                except BaseException as e:
                    encoded = {"$opaque": "unencodable: " + _type(e).__name__}
                pending.append({"i": i, "ok": encoded, "t": elapsed})
            except BaseException as e:
                state[0] = False
                pending.append({"i": i, "exc": _type(e).__name__ + ": " + str(e)[:500]})
            if _perf() - state[1] >= FLUSH_S or _len(pending) >= FLUSH_COUNT:
                flush()
        flush()
        timer.disarm()


class _Timer:
    """Sends the waiting results when a call runs long: SIGALRM, FLUSH_S after it is
    armed (before a call, while results wait). Then a call that never returns is the one
    the host blames for the time limit, not the first of the results batched before it.

    A program that takes SIGALRM for itself keeps it: the timer is not armed again once
    the handler is not this one (the host then blames the first unreported call, as it
    would without the timer)."""

    def __init__(self, flush: Any, state: list[Any]) -> None:
        self.flush = flush
        self.state = state
        self.armed = False
        try:
            import _signal  # type: ignore[import-not-found]  # not signal: it imports enum

            self.signals: Any = _signal
            _signal.signal(_signal.SIGALRM, self._fire)
        except (ImportError, AttributeError, ValueError, OSError):
            self.signals = None

    def arm(self) -> None:
        sig = self.signals
        if self.armed or sig is None:
            return
        if sig.getsignal(sig.SIGALRM) != self._fire:  # the program's own now
            self.signals = None
            return
        self.armed = True
        try:
            sig.setitimer(sig.ITIMER_REAL, FLUSH_S)
        except Exception:
            self.signals = None

    def disarm(self) -> None:
        if self.armed and self.signals is not None:
            self.armed = False
            try:
                self.signals.setitimer(self.signals.ITIMER_REAL, 0)
            except Exception:
                self.signals = None

    def _fire(self, signum: int, frame: Any) -> None:
        self.armed = False
        if not self.state[0]:  # between calls: the loop sends them, unless the next hangs
            self.arm()
            return
        try:  # inside the candidate's call, so the driver's own state is whole
            self.flush()
        except Exception:  # the channel is gone: the host sees that for itself
            self.signals = None


if __name__ == "__main__":
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    main()
