"""The kind of CPU a figure was measured on: a teacher trained on another kind is another model, and timings differ."""
from __future__ import annotations

import platform
from pathlib import Path


def cpu_model_and_flags() -> tuple[str, set[str]]:
    """This CPU's model name and its feature flags as Linux lists them (no flags elsewhere)."""
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    return model, flags


def machine_kind() -> str:
    """This CPU's model and its widest vector extension, e.g. ``AMD EPYC, avx2`` (floating-point
    kernels, and so trained models and timings, differ between kinds)."""
    model, flags = cpu_model_and_flags()
    widest = next((flag for flag in ("amx_tile", "avx512_bf16", "avx512f", "avx2") if flag in flags), "")
    return f"{model}, {widest}" if widest else model
