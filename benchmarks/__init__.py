"""Benchmarks for memrl; each module is run with `python -m benchmarks.<name>`."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The CPU features int8 inference leans on: ONNX Runtime's quantised kernels run several
# times faster with VNNI (AVX-512 or AVX) than with AVX2 alone, so embedding figures from
# two machines compare only with these beside them.
INT8_FEATURES = ("avx512_vnni", "avx_vnni", "avx512f", "avx2")


def machine() -> dict:
    """What the figures were measured on: cores, CPU, the int8 features it has, load."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:  # not Linux
        pass
    return {
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": model,
        "int8_features": [f for f in INT8_FEATURES if f in flags],
        "python": platform.python_version(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }
