"""manage.py seed_demo: a demo course, users, MNIST and CIFAR-10 competitions and baselines.

Idempotent: running it again changes nothing but the demo passwords (reset to the printed ones).
Baselines come from reference/manifest.json + reference/models/ and are graded through the normal
pipeline (queued for the Celery worker, or at once with --sync).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from competitions.errors import ServiceError
from competitions.models import Competition, Course, HeldOutDataset, Membership, Submission
from competitions.services.datasets import dataset_import
from competitions.services.grading import submission_grade
from competitions.services.reference_baselines import baseline_user
from competitions.services.submissions import baseline_create

User = get_user_model()
# The held-out sets bundled in the repository: the demo needs nothing outside it.
DATASETS = {
    "mnist": ("MNIST test", [settings.BASE_DIR / "data" / "mnist"]),
    "cifar10": (
        "CIFAR-10 test (JPEG copy)",
        [settings.BASE_DIR / "data" / "cifar10" / "cifar10-jpeg-test.zip"],
    ),
}
COMPETITIONS = {
    "mnist": ("mnist-digits", "MNIST digits", "Classify 28×28 handwritten digits."),
    "cifar10": ("cifar10", "CIFAR-10 (JPEG copy)", "Classify 32×32 colour images in 10 classes."),
}
USERS = [
    ("instructor", "podium-instructor", True),
    ("alice", "podium-alice", False),
    ("bob", "podium-bob", False),
]


class Command(BaseCommand):
    help = "Create demo course, users, competitions and baseline submissions (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sync", action="store_true", help="grade baselines in this process")
        parser.add_argument(
            "--baseline",
            action="append",
            default=None,
            metavar="NAME",
            help="only this manifest model (repeatable); default: all of them",
        )

    def _user(self, username: str, password: str, staff: bool) -> Any:
        user, _ = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.org"}
        )
        user.set_password(password)
        user.is_staff = user.is_staff or staff
        user.save()
        return user

    def handle(self, *args: Any, **opts: Any) -> None:
        users = {name: self._user(name, pw, staff) for name, pw, staff in USERS}
        system = baseline_user()
        course, _ = Course.objects.get_or_create(
            slug="demo", defaults={"name": "Demo course", "enrollment_code": "DEMO2026"}
        )
        for name, user in users.items():
            role = Membership.Role.INSTRUCTOR if name == "instructor" else Membership.Role.STUDENT
            Membership.objects.update_or_create(course=course, user=user, defaults={"role": role})
        competitions = {}
        for key, (ds_name, candidates) in DATASETS.items():
            ds = HeldOutDataset.objects.filter(name=ds_name).first()
            if ds is None:
                source = next((p for p in candidates if p.exists()), None)
                if source is None:
                    self.stdout.write(f"note: no {key} dataset found ({candidates[0]}); skipped")
                    continue
                ds = dataset_import(path=source, name=ds_name)
                self.stdout.write(f"imported {ds.name} from {source} ({ds.n_images} images)")
            slug, title, description = COMPETITIONS[key]
            competitions[key], _ = Competition.objects.get_or_create(
                slug=slug,
                defaults={
                    "course": course,
                    "title": title,
                    "description": description,
                    "dataset": ds,
                    "visibility": Competition.Visibility.PUBLIC,
                    "opens_at": timezone.now(),
                    "closes_at": timezone.now() + dt.timedelta(days=30),
                    "daily_limit": 10,
                    "total_limit": 200,
                    "max_team_size": 3,
                    "allowed_formats": ["onnx", "npz", "keras"],
                    "public_fraction": 0.5,
                    "split_seed": 2026,
                    "created_by": users["instructor"],
                },
            )
        self._baselines(system, competitions, sync=opts["sync"], only=opts["baseline"])
        self.stdout.write("\nDemo accounts (username / password):")
        for name, pw, staff in USERS:
            self.stdout.write(f"  {name:<11} / {pw}{'   (instructor, staff)' if staff else ''}")
        self.stdout.write(f"Course enrollment code: {course.enrollment_code}")

    def _baselines(
        self,
        system: Any,
        competitions: dict[str, Competition],
        *,
        sync: bool,
        only: list[str] | None,
    ) -> None:
        manifest_path = settings.BASE_DIR / "reference" / "manifest.json"
        if not manifest_path.exists():
            self.stdout.write("note: reference/manifest.json not found; no baseline submissions")
            return
        manifest = json.loads(manifest_path.read_text())
        for entry in manifest.get("models", []):
            if only and entry.get("name") not in only:
                continue
            competition = competitions.get(entry.get("dataset", ""))
            path = manifest_path.parent / entry.get("file", "")
            if competition is None or not path.is_file():
                self.stdout.write(
                    f"note: baseline {entry.get('name')} skipped (no file or competition)"
                )
                continue
            data = path.read_bytes()
            existing = Submission.objects.filter(
                competition=competition, is_baseline=True, label=entry["name"]
            ).first()
            if existing is not None and existing.file_bytes == len(data):
                continue
            try:
                sub = baseline_create(
                    user=system,
                    competition=competition,
                    label=entry["name"],
                    upload=SimpleUploadedFile(Path(path).name, data),
                    preprocess=entry.get("preprocess", "") or "",
                    note=entry.get("description", ""),
                )
            except ServiceError as e:
                self.stdout.write(f"note: baseline {entry['name']} refused: {e.message}")
                continue
            if sync:
                submission_grade(submission_id=sub.pk)
                sub.refresh_from_db()
                self.stdout.write(f"baseline {entry['name']}: {sub.status} {sub.public_score}")
            else:
                self.stdout.write(f"baseline {entry['name']}: queued for the worker")
