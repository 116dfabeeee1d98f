"""Speed benchmarks for manual_bp against the frameworks. Run ``python -m benchmarks.backprop``.

Benchmarks may import torch and jax: they time the frameworks, they never check ``manual_bp`` with
them (that is the job of ``references/``).
"""
