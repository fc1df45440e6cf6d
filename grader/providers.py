"""Choosing the execution provider without onnxruntime's wall of CUDA library errors.

onnxruntime-gpu lists CUDAExecutionProvider even on machines without a GPU, then prints a page of
library-loading errors when a session asks for it. Probing the driver and the libraries first
lets the grader say once, in one line, that it runs on the CPU and why.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache
from typing import Any

CUDA_LIBS = ("libcudart.so.13", "libcublasLt.so.13", "libcudnn.so.9")


@cache
def cuda_status() -> tuple[bool, str]:
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False, "no CUDA driver on this machine"
    count = ctypes.c_int(0)
    if (
        driver.cuInit(0) != 0
        or driver.cuDeviceGetCount(ctypes.byref(count)) != 0
        or not count.value
    ):
        return False, "CUDA driver present but no usable GPU"
    try:
        import onnxruntime as ort

        if hasattr(ort, "preload_dlls"):  # finds the nvidia-* pip packages' libraries
            ort.preload_dlls(directory="")
    except Exception:  # noqa: BLE001 - best effort; the library check below decides
        pass
    for lib in CUDA_LIBS:
        try:
            ctypes.CDLL(lib)
        except OSError:
            return False, f"{lib} not found (install onnxruntime-gpu[cuda,cudnn])"
    return True, f"{count.value} CUDA device(s)"


_said = False


def choose_providers(use_cuda: bool | None) -> list[str]:
    """Providers to ask for; says once per process, in one line, when CUDA is not used."""
    global _said
    if use_cuda is False:
        return ["CPUExecutionProvider"]
    ok, why = cuda_status()
    if ok:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if not _said:
        print(
            f"podium grader: CUDA unavailable ({why}); using CPUExecutionProvider", file=sys.stderr
        )
        _said = True
    return ["CPUExecutionProvider"]


def session_providers(names: list[str], memory_mb: int | None) -> list[Any]:
    """The providers with their options for InferenceSession: on CUDA, the submission's
    `memory_mb` caps the device memory onnxruntime's arena may take (`gpu_mem_limit`, bytes),
    growing only as much as asked (`kSameAsRequested`), since RLIMIT_AS cannot bound a GPU."""
    if not memory_mb or "CUDAExecutionProvider" not in names:
        return list(names)
    cuda = {
        "gpu_mem_limit": str(int(memory_mb) << 20),
        "arena_extend_strategy": "kSameAsRequested",
    }
    return [(n, cuda) if n == "CUDAExecutionProvider" else n for n in names]
