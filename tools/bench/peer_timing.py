"""Best-of timing shared by the bench's Python peers (imported from the peer scripts next to it).

`best` is the same rule as `bestTime` on the Swift side (Sources/vlkit-bench/BenchCase.swift): one
warm-up, then the best of at least `repeats` runs and of `min_seconds` of runs.
"""
import time


def best(fn, repeats, min_seconds=0.3):
    fn()
    t, total, runs = float("inf"), 0.0, 0
    while runs < repeats or total < min_seconds:
        t0 = time.perf_counter(); fn(); d = time.perf_counter() - t0
        t, total, runs = min(t, d), total + d, runs + 1
    return t


def best_of_few(fn, repeats):
    """For cases of several seconds a run (the PyTorch LLaMA peer): one warm-up, then the best of
    max(2, repeats // 2) runs, with no time floor."""
    fn()
    t = float("inf")
    for _ in range(max(2, repeats // 2)):
        t0 = time.perf_counter(); fn(); t = min(t, time.perf_counter() - t0)
    return t
