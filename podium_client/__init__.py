"""The Podium student client: check a model the way the platform grades it, submit it, follow it.

Installed alone with `pip install ./client` (the engine plus this package: onnx, onnxruntime, numpy;
no Django). The command is `podium`; from Python: `from podium_client import check, submit, status`.
"""

from podium_client.api import check, login, status, submit, wait_for
from podium_client.http import PodiumError

__all__ = ["PodiumError", "check", "login", "status", "submit", "wait_for"]
