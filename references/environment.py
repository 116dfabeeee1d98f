"""What the references ran on: versions, precision settings, devices, CPU, BLAS, long double.

``environment(device)`` returns a JSON-serialisable dict; a framework that is not installed shows
as None (its version) and never raises. Reading torch's or jax's settings imports them through the
reference backends, so the jax figures are those the jax reference runs with (64-bit mode on).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys
from typing import Any

import numpy as np

_DISTRIBUTIONS = ("numpy", "torch", "jax", "jaxlib", "hypothesis", "mpmath", "scipy")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _jsonable(value: Any) -> Any:
    """Nested dicts/lists of str, int, float, bool, None; anything else as its str."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    return str(value)


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what the platform module says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> Any:
    """The BLAS NumPy calls: threadpoolctl's view if installed, else NumPy's build config."""
    try:
        from threadpoolctl import threadpool_info

        return [i for i in threadpool_info() if i.get("user_api") == "blas"]
    except ImportError:
        pass
    try:
        config = np.show_config(mode="dicts")
        deps = config.get("Build Dependencies", {})
        return {k: deps[k] for k in ("blas", "lapack") if k in deps}
    except (TypeError, ValueError, AttributeError):
        return None


def _torch_settings() -> dict[str, Any] | None:
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None
    cuda = bool(torch.cuda.is_available())
    return importlib.import_module("references._torch").settings() | {
        "reference_pins_full_float32": "per call; allow_tf32=True switches TF32 on for cuBLAS and cuDNN",
        "num_threads": int(torch.get_num_threads()),
        "cuda_available": cuda,
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "cuda_version": torch.version.cuda,
    }


def _jax_settings() -> dict[str, Any] | None:
    try:
        importlib.import_module("references._jax")  # switches on 64-bit mode, as the reference runs
        jax = importlib.import_module("jax")
    except ImportError:
        return None
    return {
        "enable_x64": bool(jax.config.jax_enable_x64),
        "default_matmul_precision": jax.config.jax_default_matmul_precision,
        "reference_matmul_precision": "highest (explicit per matmul; allow_tf32=True leaves jax's default)",
        "default_backend": jax.default_backend(),
        "XLA_FLAGS": os.environ.get("XLA_FLAGS"),
        "XLA_PYTHON_CLIENT_PREALLOCATE": os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE"),
        "devices": [str(d) for d in jax.devices()],
    }


DETERMINISTIC_XLA_FLAG = "--xla_gpu_deterministic_ops=true"


def prepare_gpu_process(environ: Any = None) -> None:
    """Set the environment a process needs before jax first touches a GPU (``os.environ`` by default).

    - ``XLA_PYTHON_CLIENT_PREALLOCATE=false``, unless set: processes sharing one GPU each take memory
      as needed instead of 75 % of it at start.
    - ``--xla_gpu_deterministic_ops=true`` added to ``XLA_FLAGS``, unless XLA_FLAGS already says
      something about it: without it XLA's autotuner may pick a different GEMM algorithm in each
      process, so jax's float32 gradients on the GPU differed in their last bits from one process to
      the next (measured on an H100; torch's did not), and a report would not repeat its own figures.

    Takes effect only before jax initialises its GPU backend (its first computation or device query).
    """
    env = os.environ if environ is None else environ
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    flags = env.get("XLA_FLAGS", "")
    if "xla_gpu_deterministic_ops" not in flags:
        env["XLA_FLAGS"] = f"{flags} {DETERMINISTIC_XLA_FLAG}".strip()


def environment(device: str = "cpu") -> dict[str, Any]:
    """Versions, precision settings and devices, as a JSON-serialisable dict.

    Keys: python, numpy, torch, jax, jaxlib, hypothesis, mpmath, scipy (version strings or None);
    platform, cpu, cpu_count, blas; longdouble (eps, significand bits, name); device (the one
    asked for); torch_settings and jax_settings (None when the framework is not installed).
    """
    info: dict[str, Any] = {"python": platform.python_version()}
    info |= {dist: _version(dist) for dist in _DISTRIBUTIONS}
    ld = np.finfo(np.longdouble)
    info |= {
        "platform": platform.platform(),
        "python_implementation": sys.implementation.name,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "blas": _blas(),
        "longdouble": {
            "name": np.dtype(np.longdouble).name,
            "eps": float(ld.eps),
            "significand_bits": int(ld.nmant) + 1,
        },
        "device": device,
        "torch_settings": _torch_settings(),
        "jax_settings": _jax_settings(),
    }
    return _jsonable(info)
