"""Which torch device a command may use: checked up front, so a device that is not there is one clear error.

Shared by the forecaster's training and predictor, the API and the RL trainer. ``--device gpu``, ``mps`` or
``cuda`` on a machine without one used to surface as torch's own traceback after the markets were simulated.
"""

from __future__ import annotations

import re


def check_device(device: str) -> str:
    """The device, or a ``ValueError`` naming ``--device`` when it is malformed or not on this machine."""
    import torch

    device = str(device)  # a torch.device too
    form = re.fullmatch(r"cpu|cuda(?::(\d+))?", device)
    if form is None:
        raise ValueError(f"--device {device!r}: cpu or cuda[:n]")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device on this machine (torch sees none); use --device cpu")
    if form.group(1) is not None and int(form.group(1)) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise ValueError(f"--device {device}: this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}")
    return device


__all__ = ["check_device"]
