"""Warm the next GoF's MLP program while the current GoF plays (plain Python, no Qt).

On llvmpipe the renderer bakes each GoF's MLP into its pass-2 program, so the first frame of a new
GoF compiles it on the GUI thread (0.3-1.4 s: a visible hitch at every GoF boundary).
`app.gl.warm.WarmServer` compiles the same program in a helper process (one per clip, started on
the first request: starting Python with torch takes longer than a GoF plays), which fills
Mesa's on-disk shader cache; the player's own compile of that GoF is then a cache hit.

`GofWarmer.enter(g)` is called by the UI on every tick with the playhead's GoF. The first time
playback is in GoF g it queues GoF g+1 (wrapping, since the clip loops) unless that GoF was
already entered or requested. One background thread reads the GoF's MLP from the file and runs
hands it to the helper, one GoF at a time: the UI thread never waits. Failures only cost speed,
so they are logged, never raised (a dead helper is restarted at the next request). `close()`
ends the helper.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

MlpOf = Callable[[int], Any]
"""GoF index -> (mlp, channels, RenderParams) or None when its MLP is unavailable."""


class Helper(Protocol):
    def warm(self, mlp: Any, channels: int, params: Any) -> None: ...

    def cancel(self) -> None:
        """Abandon the warm-up in progress without waiting (``warm`` then raises)."""
        ...

    def close(self) -> None: ...


def _start_helper(env: dict[str, str] | None) -> Helper:
    from app.gl.warm import WarmServer

    return WarmServer(env)


@dataclass
class WarmResult:
    gof: int
    ok: bool
    seconds: float
    message: str = ""


class GofWarmer:
    """Once per GoF, pre-compile the next GoF's MLP program in a helper process."""

    def __init__(
        self,
        gofs: int,
        mlp_of: MlpOf | None,
        *,
        start: Callable[[dict[str, str] | None], Helper] = _start_helper,
        env: dict[str, str] | None = None,
        enabled: Callable[[], bool] = lambda: True,
    ) -> None:
        """``enabled`` is asked before each request (the player: "the renderer bakes weights",
        known only once its GL context exists); ``env`` is added to the helper's environment."""
        self.gofs = gofs
        self.mlp_of = mlp_of
        self.start = start
        self.env = env
        self.enabled = enabled
        self.requested: list[int] = []
        self.results: dict[int, WarmResult] = {}
        self._claimed: set[int] = set()  # GoFs entered (the player compiles them) or requested
        self._queue: collections.deque[int] = collections.deque()
        self._cond = threading.Condition()
        self.helper: Helper | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._inflight: int | None = None
        self._abandoned: int | None = None

    @property
    def active(self) -> bool:
        return self.gofs > 1 and self.mlp_of is not None and not self._closed

    # ------------------------------------------------------------------ UI side (never blocks)
    def enter(self, gof: int) -> int | None:
        """Playback is in ``gof``: queue the next GoF's warm-up if not done yet; returns it."""
        if not self.active:
            return None
        self._claimed.add(gof)
        if gof in self._queue:
            with self._cond:
                if gof in self._queue:
                    self._queue.remove(gof)  # not started yet: the player compiles it now
        if gof == self._inflight:
            self._abandon(gof)
        nxt = (gof + 1) % self.gofs
        if nxt in self._claimed or not self.enabled():
            return None
        self._claimed.add(nxt)
        self.requested.append(nxt)
        with self._cond:
            self._queue.append(nxt)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fieldcast-warm", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return nxt

    def _abandon(self, gof: int) -> None:
        """Playback reached a GoF still being warmed: the player compiles it now anyway, and a
        helper compiling the same program beside it only slows that compile (measured: the
        boundary frame took up to twice as long). End the helper; the next request starts one."""
        with self._cond:
            helper = self.helper if self._inflight == gof else None
            if helper is None:
                return
            self._abandoned = gof
        log.info("warm-up of GoF %d was too late: abandoned", gof)
        try:
            helper.cancel()
        except Exception as exc:  # noqa: BLE001 - warming is optional
            log.warning("could not stop the warm helper: %s", exc)

    def wait(self, gof: int, timeout: float) -> WarmResult | None:
        """The result for ``gof`` once its helper finished (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while gof not in self.results and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self.results.get(gof)

    def close(self) -> None:
        """Stop warming and end the helper process (a warm-up in progress is abandoned)."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            helper, self.helper = self.helper, None
            self._cond.notify_all()
        if helper is not None:
            _close_quietly(helper)
        if self._thread is not None:
            self._thread.join(timeout=5)

    # ------------------------------------------------------------------ warm thread
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                gof = self._queue.popleft()
            begin = time.perf_counter()
            try:
                result = self._warm(gof, begin)
            except Exception as exc:  # noqa: BLE001 - a failed warm-up only costs a hitch
                result = WarmResult(gof, False, time.perf_counter() - begin, f"{type(exc).__name__}: {exc}")
            if result is None:
                return  # closed while the helper ran
            if result.ok:
                log.info("warmed GoF %d's MLP program in %.2f s", gof, result.seconds)
            elif self._abandoned != gof:
                log.warning("could not warm GoF %d's MLP program: %s", gof, result.message)
            with self._cond:
                self.results[gof] = result
                self._cond.notify_all()

    def _warm(self, gof: int, begin: float) -> WarmResult | None:
        assert self.mlp_of is not None
        got = self.mlp_of(gof)
        if got is None:
            return WarmResult(gof, False, 0.0, "its MLP is unavailable")
        mlp, channels, params = got
        with self._cond:
            if self._closed:
                return None
            if self.helper is None:
                self.helper = self.start(self.env)
            helper = self.helper
            self._inflight = gof
        try:
            helper.warm(mlp, channels, params)  # close() ends the helper, which returns from here
        except Exception as exc:
            with self._cond:
                self._inflight = None
                if self._closed:
                    return None
                if self.helper is helper:
                    self.helper = None  # start a fresh one next time
                abandoned = self._abandoned == gof
            _close_quietly(helper)
            if abandoned:
                return WarmResult(gof, False, time.perf_counter() - begin, "too late: abandoned")
            raise exc
        with self._cond:
            self._inflight = None
            if self._closed:
                return None
        return WarmResult(gof, True, time.perf_counter() - begin)


def _close_quietly(helper: Helper) -> None:
    try:
        helper.close()
    except Exception as exc:  # noqa: BLE001 - closing must not raise into the player
        log.warning("could not close the warm helper: %s", exc)
