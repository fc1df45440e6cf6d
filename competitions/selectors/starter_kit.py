"""A competition's starter kit: the scripts in starter/ (NumPy, PyTorch, Keras) and a README
written for the competition's dataset, as one zip to download from the competition page."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string

from competitions.models import Competition

SCRIPTS = ("numpy_mlp.py", "torch_cnn.py", "keras_cnn.py")


def starter_dir() -> Path:
    return Path(settings.BASE_DIR) / "starter"


def starter_kit_zip(*, competition: Competition) -> bytes:
    dataset = competition.dataset
    readme = render_to_string(
        "competitions/starter_readme.md",
        {
            "competition": competition,
            "shape": dataset.image_shape,
            "classes": dataset.classes,
            "formats": competition.allowed_formats,
        },
    )
    buffer = io.BytesIO()
    folder = f"{competition.slug}-starter-kit"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as kit:
        kit.writestr(f"{folder}/README.md", readme)
        for name in SCRIPTS:
            kit.write(starter_dir() / name, f"{folder}/{name}")
    return buffer.getvalue()
