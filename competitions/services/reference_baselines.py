"""The course's reference baselines (reference/manifest.json + reference/models/) attached to a
competition: graded like any upload, shown with a badge, and the anchors of the grades CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from competitions.errors import ServiceError
from competitions.models import Competition, HeldOutDataset, Submission
from competitions.services.submissions import baseline_create

# The image shape each manifest dataset's models take (reference.nets.ModelSpec.image_shape;
# repeated here because reference/ imports torch, which the web process never does).
MANIFEST_SHAPES = {"mnist": [28, 28, 1], "cifar10": [32, 32, 3]}
BASELINE_USER = "podium-baselines"


def _manifest() -> tuple[Path, list[dict[str, Any]]]:
    path = Path(settings.BASE_DIR) / "reference" / "manifest.json"
    try:
        models = json.loads(path.read_text()).get("models", [])
    except (OSError, ValueError):
        return path, []
    return path, [m for m in models if isinstance(m, dict)]


def reference_baselines_matching(*, dataset: HeldOutDataset) -> list[dict[str, Any]]:
    """Manifest entries whose models take this dataset's images and classes, file present."""
    root, models = _manifest()
    return [
        m
        for m in models
        if MANIFEST_SHAPES.get(m.get("dataset", "")) == list(dataset.image_shape)
        and len(dataset.classes) == 10
        and (root.parent / str(m.get("file", ""))).is_file()
    ]


def baseline_user() -> User:
    """The account baselines are submitted under (no password: nobody logs in as it)."""
    user, created = User.objects.get_or_create(username=BASELINE_USER, defaults={"is_staff": True})
    if created or user.has_usable_password():
        user.set_unusable_password()
        user.save()
    return user


def baselines_attach_reference(*, competition: Competition) -> list[Submission]:
    """Queue every matching reference baseline not attached yet (by label) for grading."""
    root, _ = _manifest()
    attached = set(
        Submission.objects.filter(competition=competition, is_baseline=True).values_list(
            "label", flat=True
        )
    )
    subs = []
    for entry in reference_baselines_matching(dataset=competition.dataset):
        if entry["name"] in attached:
            continue
        path = root.parent / str(entry["file"])
        try:
            subs.append(
                baseline_create(
                    user=baseline_user(),
                    competition=competition,
                    label=str(entry["name"]),
                    upload=SimpleUploadedFile(path.name, path.read_bytes()),
                    preprocess=str(entry.get("preprocess") or ""),
                    note=str(entry.get("description") or "")[:300],
                )
            )
        except ServiceError:
            continue  # a file the competition's formats refuse: not offered as a baseline
    return subs
