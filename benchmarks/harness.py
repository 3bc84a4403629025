"""Measuring on a small, noisy machine: interleaved variants, repeated rounds, medians, and
ratios taken pair by pair within one round (so a slow moment hits both sides of a ratio)."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Budget",
    "Measured",
    "Progress",
    "interleave",
    "median",
    "paired_ratio",
    "percentile",
]


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): an observed value, never an interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return float(ordered[int(rank) - 1])


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """The median of per-round ratios: each pair was measured back to back."""
    return median(a / b for a, b in zip(numerator, denominator, strict=True))


@dataclass
class Measured:
    """Per-round values of one variant (seconds per operation, requests per second...)."""

    name: str
    rounds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return median(self.rounds)

    @property
    def spread(self) -> tuple[float, float]:
        """Interquartile range, as a noise indicator."""
        if len(self.rounds) < 4:
            return (min(self.rounds), max(self.rounds))
        q = statistics.quantiles(self.rounds, n=4)
        return (q[0], q[2])


def interleave(
    variants: dict[str, Callable[[], float]],
    *,
    rounds: int,
    budget: Budget | None = None,
    min_rounds: int = 3,
    between: Callable[[], None] | None = None,
) -> dict[str, Measured]:
    """Run every variant once per round, in an order rotated each round; each call returns
    one measurement. Stops early (after ``min_rounds``) when the budget runs out."""
    names = list(variants)
    results = {name: Measured(name) for name in names}
    for r in range(rounds):
        if budget is not None and r >= min_rounds and budget.exhausted():
            break
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            gc.collect()
            results[name].rounds.append(variants[name]())
            if between is not None:
                between()
    return results


def per_op(run: Callable[[int], float], n: int) -> Callable[[], float]:
    """``run(n)`` returns the seconds n operations took; the variant yields seconds per op."""
    return lambda: run(n) / n


class Budget:
    """A soft deadline for one section: rounds stop early rather than overrun."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def exhausted(self) -> bool:
        return time.monotonic() >= self.deadline

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


class Progress:
    """One line per step, with the time since the suite started."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        elapsed = time.monotonic() - self.start
        print(f"[{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}] {message}", flush=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start
