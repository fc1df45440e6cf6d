"""Disk full in the upload temp directory (issue 10, class 11): an upload larger than
FILE_UPLOAD_MAX_MEMORY_SIZE is spooled there as it arrives; when it is full the API answers 503
`storage_full` in its JSON shape and the site a plain 503, not a 500; nothing is stored."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from competitions.models import RefusedUpload, Submission
from competitions.services.tokens import token_create

pytestmark = pytest.mark.django_db

BIG = 3 << 20  # over the 2 MiB kept in memory: spooled to the temp directory


@pytest.fixture
def full_tmp(tmp_path: Path, settings) -> Iterator[Path]:
    mnt = tmp_path / "tmp"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    settings.FILE_UPLOAD_TEMP_DIR = str(mnt)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_api_upload_into_a_full_temp_dir_is_storage_full(users, competition, full_tmp):
    _, key = token_create(user=users["alice"])
    client = Client(raise_request_exception=False)
    response = client.post(
        f"/api/competitions/{competition.slug}/submissions",
        {"file": SimpleUploadedFile("m.onnx", b"x" * BIG)},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 503, response.content[:300]
    body = response.json()
    assert body["code"] == "storage_full" and "no submission was used" in body["message"]
    assert not Submission.objects.exists() and not RefusedUpload.objects.exists()
    assert [p for p in full_tmp.iterdir()] == []


def test_site_upload_into_a_full_temp_dir_is_a_plain_503(users, competition, full_tmp):
    client = Client(raise_request_exception=False)
    client.force_login(users["alice"])
    response = client.post(
        f"/c/{competition.slug}/submit/", {"file": SimpleUploadedFile("m.onnx", b"x" * BIG)}
    )
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain")
    assert "no space left" in response.content.decode()
    assert not Submission.objects.exists()
