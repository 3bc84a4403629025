"""Prometheus metrics (issue 15): what an operator watches, in the text exposition format.

    cleanexit_auth_events_total{kind, outcome}       logins, refreshes, logouts, revocations
    cleanexit_sessions_ended_total{reason}           logout, revoked, admin, rfc7009, ...
    cleanexit_revocation_checks_total{result}        accepted, revoked_jti/sid/cutoff, unavailable
    cleanexit_token_rejections_total{reason}         refused before the check: expired, ...
    cleanexit_revocation_view_entries                entries in this process's view
    cleanexit_replica_stale                          1: the next request must catch up or 503
    cleanexit_replica_sync_age_seconds               since the view was last known current
    cleanexit_logout_duration_seconds                histogram
    cleanexit_refresh_duration_seconds               histogram

Every label value comes from a fixed set (``LABELS``; anything else is counted as ``other``),
never a user, session or token. Events arrive through the ``Observer`` call; the per-request
revocation checks are plain integers in ``CountingGuard``, read only when exported.

One process: a custom collector reads those integers at scrape time. Several worker processes
(``cleanexit serve --workers N``, or any server with ``PROMETHEUS_MULTIPROC_DIR`` set):
prometheus-client's multiprocess mode, where each process writes its values to memory-mapped
files in that directory and a scrape sums every process's files. The integers reach the files
once a second (``flush``, run by ``Runtime.lifespan``, and by the process answering a scrape
just before it answers), so a scrape is at most a second behind the other workers. The
counters of a worker that exited stay in its files: totals never go back.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ..errors import StoreError
from .counting import CHECK_RESULTS, REJECTION_REASONS, Counts
from .events import AuthEvent
from .replica import Replica

__all__ = ["CONTENT_TYPE", "LABELS", "SESSION_END_REASONS", "Metrics"]

log = logging.getLogger("cleanexit.metrics")
CONTENT_TYPE = CONTENT_TYPE_LATEST

# kind -> the outcomes it can have: the only label values cleanexit_auth_events_total takes.
LABELS: dict[str, tuple[str, ...]] = {
    "login": ("success", "failure", "throttled"),
    "session": ("created",),
    "refresh": ("rotated", "race", "reused", "invalid"),
    "logout": ("current", "others", "all", "refused"),
    "session_revoke": ("user", "admin", "backchannel", "rfc7009", "demo_user_removed", "other"),
    "token_revoke": ("access", "refresh", "ignored"),
}
SESSION_END_REASONS = (
    "logout", "revoked", "admin", "rfc7009", "refresh_token_reuse", "backchannel",
    "demo_user_removed", "other",
)  # fmt: skip
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_CHECKS = ("cleanexit_revocation_checks", "Revocation checks of access tokens, by result.")
_REJECTIONS = (
    "cleanexit_token_rejections",
    "Access tokens refused before the revocation check (bad signature, expired, ...), by reason.",
)
_ENTRIES = ("cleanexit_revocation_view_entries", "Entries in this process's revocation view.")
_STALE = (
    "cleanexit_replica_stale",
    "1 when the revocation view is not known current: the next request must catch up first "
    "(or answer 503).",
)
_AGE = (
    "cleanexit_replica_sync_age_seconds",
    "Seconds since the revocation view was last known current (0: current now).",
)


class Metrics:
    """The registry, the event observer (call it with an ``AuthEvent``) and the exporter."""

    FLUSH_EVERY = 1.0  # seconds: how far behind a multiprocess scrape may be

    def __init__(
        self, *, guard: Counts, replica: Replica, multiprocess_dir: str | None = None
    ) -> None:
        self.guard = guard
        self.replica = replica
        self.multiprocess = multiprocess_dir is not None
        self.registry = CollectorRegistry()
        own = None if self.multiprocess else self.registry  # multiprocess: files, not objects
        self.events = Counter(
            "cleanexit_auth_events", "Authentication events, by kind and outcome.",
            ["kind", "outcome"], registry=own,
        )  # fmt: skip
        self.sessions_ended = Counter(
            "cleanexit_sessions_ended", "Sessions ended, by reason.", ["reason"], registry=own
        )
        self.latency = {
            kind: Histogram(
                f"cleanexit_{kind}_duration_seconds",
                f"Time to answer a {kind}, in seconds.",
                buckets=_LATENCY_BUCKETS,
                registry=own,
            )
            for kind in ("logout", "refresh")
        }
        for kind, outcomes in LABELS.items():  # every series exists from the start, at 0
            for outcome in outcomes:
                self.events.labels(kind, outcome)
        for reason in SESSION_END_REASONS:
            self.sessions_ended.labels(reason)
        if self.multiprocess:
            self._files = _Files(guard)
            MultiProcessCollector(self.registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
        else:
            self.registry.register(_Live(self))

    # -- events ------------------------------------------------------------------------------
    def __call__(self, event: AuthEvent) -> None:
        outcomes = LABELS.get(event.kind)
        if outcomes is None:
            return  # audit-only events (a revoked token replayed: counted by the guard)
        outcome = event.outcome if event.outcome in outcomes else "other"
        if outcome in outcomes:
            self.events.labels(event.kind, outcome).inc()
        if event.sessions:
            reason = event.reason if event.reason in SESSION_END_REASONS else "other"
            self.sessions_ended.labels(reason).inc(len(event.sessions))
        histogram = self.latency.get(event.kind)
        if histogram is not None and event.seconds is not None:
            histogram.observe(event.seconds)

    # -- export ------------------------------------------------------------------------------
    async def refresh_view(self) -> None:
        """Bring the view up to date first, so the replica gauges say what a request would
        find (a polling replica is 'stale' between a commit and the next request)."""
        if not self.replica.is_fresh():
            with contextlib.suppress(StoreError):
                await self.replica.catch_up()

    def flush(self) -> None:
        """Multiprocess mode: write this process's hot-path counts and gauges to its files."""
        if self.multiprocess:
            self._files.write(self.gauges())

    async def render(self) -> bytes:
        """The exposition text, as a scrape of this process answers it."""
        await self.refresh_view()
        self.flush()
        return generate_latest(self.registry)

    def gauges(self) -> dict[str, float]:
        replica = self.replica
        fresh = replica.is_fresh()
        age = replica.status().get("age_s")
        if fresh and not isinstance(age, int | float):
            age = 0.0
        return {
            "entries": float(len(replica.view)),
            "stale": 0.0 if fresh else 1.0,
            "age": float(age) if isinstance(age, int | float) else math.nan,
        }


class _Live(Collector):
    """One process: the guard's integers and the replica's state, read at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        guard = self.metrics.guard
        checks = CounterMetricFamily(*_CHECKS, labels=["result"])
        for result, count in guard.checks().items():
            checks.add_metric([result], count)
        rejections = CounterMetricFamily(*_REJECTIONS, labels=["reason"])
        for reason in REJECTION_REASONS:
            rejections.add_metric([reason], guard.rejected[reason])
        gauges = self.metrics.gauges()
        yield checks
        yield rejections
        yield GaugeMetricFamily(*_ENTRIES, value=gauges["entries"])
        yield GaugeMetricFamily(*_STALE, value=gauges["stale"])
        yield GaugeMetricFamily(*_AGE, value=gauges["age"])


class _Files:
    """Several processes: the guard's integers go into multiprocess counters as deltas."""

    def __init__(self, guard: Counts) -> None:
        self.guard = guard
        self.checks = Counter(*_CHECKS, ["result"], registry=None)
        self.rejections = Counter(*_REJECTIONS, ["reason"], registry=None)
        # max over processes: a view's size and staleness per instance (the parent of the
        # workers writes 0s, which a max ignores).
        self.gauges: dict[str, Any] = {
            "entries": Gauge(*_ENTRIES, registry=None, multiprocess_mode="max"),
            "stale": Gauge(*_STALE, registry=None, multiprocess_mode="max"),
            "age": Gauge(*_AGE, registry=None, multiprocess_mode="max"),
        }
        self.sent: dict[tuple[str, str], int] = {}
        for result in CHECK_RESULTS:
            self.checks.labels(result)
        for reason in REJECTION_REASONS:
            self.rejections.labels(reason)

    def write(self, gauges: dict[str, float]) -> None:
        guard = self.guard
        rows = [("checks", k, v) for k, v in guard.checks().items()]
        rows += [("rejections", k, v) for k, v in guard.rejected.items()]
        for family, label, count in rows:
            delta = count - self.sent.get((family, label), 0)
            if delta:
                counter = self.checks if family == "checks" else self.rejections
                counter.labels(label).inc(delta)
                self.sent[(family, label)] = count
        for name, value in gauges.items():
            self.gauges[name].set(0.0 if math.isnan(value) else value)
