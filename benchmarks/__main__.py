"""All the benchmarks, one command: ``python -m benchmarks`` (a few minutes on 2 cores).

Runs ``benchmarks.backprop`` (backprop speed: manual_bp against torch and jax.jit, JSON in
benchmarks/results/backprop.json) and ``benchmarks.throughput`` (check throughput, the test suite's and
the quick report's wall times, JSON in benchmarks/results/throughput.json). Options are passed to
neither; run the modules on their own for those.
"""

import sys

from benchmarks import backprop, throughput

if __name__ == "__main__":
    sys.exit(backprop.main([]) or throughput.main([]))
