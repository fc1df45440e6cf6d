"""Disk full on a worker's dataset cache (issue 10, class 11): the write is tried again, a
failure that lasts is the platform's (`storage_full`, not counted against the quota), and no
partial `.part` file is left behind."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from competitions import dataset_cache
from competitions.models import Submission
from competitions.services.grading import submission_grade
from competitions.services.submissions import submission_create
from testsupport.web import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_cache(tmp_path: Path, settings, monkeypatch) -> Iterator[Path]:
    """The dataset cache on a real 64 KiB tmpfs (the held-out set needs more); a fresh memo."""
    cache = tmp_path / "cache"
    cache.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(cache)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    settings.PODIUM_DATASET_CACHE = cache
    monkeypatch.setattr(dataset_cache, "_MEMO", {})
    monkeypatch.setattr(dataset_cache, "CACHE_RETRY_S", 0.01)
    try:
        yield cache
    finally:
        subprocess.run(["umount", str(cache)], check=False)


def test_a_full_dataset_cache_fails_the_submission_as_the_platforms_without_part_files(
    users, competition, models, small_cache: Path
):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    assert submission_grade(submission_id=sub.pk) == "failed"
    sub = Submission.objects.get(pk=sub.pk)
    assert sub.status == "failed" and sub.error_code == "storage_full"
    assert "does not count against your quota" in sub.error_message
    assert not sub.counts_toward_quota
    assert "after 3 tries" in sub.log and "No space left on device" in sub.log
    assert list(small_cache.iterdir()) == []  # no .part left
    # Space again: the next submission is graded from a whole cache file.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_cache)], check=True)
    again = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    assert submission_grade(submission_id=again.pk) == "scored"
    assert [p.suffix for p in small_cache.iterdir()] == [".npz"]


def test_a_cache_write_that_fails_once_is_tried_again_and_scores(
    users, competition, models, tmp_path: Path, settings, monkeypatch
):
    settings.PODIUM_DATASET_CACHE = tmp_path / f"cache-{uuid.uuid4().hex[:6]}"
    monkeypatch.setattr(dataset_cache, "_MEMO", {})
    monkeypatch.setattr(dataset_cache, "CACHE_RETRY_S", 0.01)
    calls = []
    real_copy = shutil.copyfileobj

    def full_once(src, dst, length=0):
        calls.append(1)
        if len(calls) == 1:
            dst.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(src, dst, length)

    monkeypatch.setattr(dataset_cache.shutil, "copyfileobj", full_once)
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    assert submission_grade(submission_id=sub.pk) == "scored"
    assert len(calls) == 2
    assert [p.suffix for p in Path(settings.PODIUM_DATASET_CACHE).iterdir()] == [".npz"]


def test_part_files_left_by_a_killed_writer_are_removed_at_the_next_write(
    users, competition, models, tmp_path: Path, settings, monkeypatch
):
    cache = tmp_path / "cache"
    cache.mkdir()
    settings.PODIUM_DATASET_CACHE = cache
    monkeypatch.setattr(dataset_cache, "_MEMO", {})
    stale, fresh = cache / "old.part", cache / "being-written.part"
    for part in (stale, fresh):
        part.write_bytes(b"half a dataset")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    assert submission_grade(submission_id=sub.pk) == "scored"
    assert not stale.exists() and fresh.exists()  # another worker's write in progress is kept
