"""cleanexit's benchmark suite (issue 5): ``make bench`` or ``python -m benchmarks``.

Runs on this machine, interleaving the variants it compares over repeated rounds, and writes
``docs/benchmarks.md`` (every figure, the machine, versions and the command) and
``docs/benchmarks.png``.
"""
