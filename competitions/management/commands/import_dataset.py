"""manage.py import_dataset PATH --name NAME [--split test]: store a held-out set for grading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from competitions.errors import ServiceError
from competitions.services.datasets import dataset_import


class Command(BaseCommand):
    help = "Import a held-out dataset (MNIST IDX, CIFAR-10 python/binary, npz, image zip)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="a file or a directory")
        parser.add_argument("--name", required=True)
        parser.add_argument("--split", default="test")
        parser.add_argument("--replace", action="store_true", help="replace a different dataset")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            ds = dataset_import(
                path=opts["path"], name=opts["name"], split=opts["split"], replace=opts["replace"]
            )
        except ServiceError as e:
            raise CommandError(f"{e.code}: {e.message}") from e
        self.stdout.write(
            f"{ds.name}: {ds.n_images} images {tuple(ds.image_shape)}, {len(ds.classes)} classes, "
            f"content sha256 {ds.sha256}, from {ds.source_format}"
            + (" (+ training sample for diagnosis)" if ds.sample else "")
        )
