"""The instructor's dataset import, given files built to hurt it: each is a form error on the
page (never a 500) and nothing is stored."""

from __future__ import annotations

import html
import io
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from competitions.models import HeldOutDataset

pytestmark = pytest.mark.django_db


def _png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((side, side, 3), 200, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _import(client: Client, data: bytes) -> str:
    before = HeldOutDataset.objects.count()
    response = client.post(
        reverse("competitions:dataset_import"),
        {"name": "hostile", "split": "test", "files": SimpleUploadedFile("set.zip", data)},
    )
    assert response.status_code == 200  # the form again, with its error
    assert HeldOutDataset.objects.count() == before
    return html.unescape(response.content.decode())


def test_zip_of_identical_large_pngs_is_a_form_error_naming_the_decoded_size(users, course) -> None:
    client = Client()
    client.force_login(users["teacher"])
    png = _png(512)
    data = _zip({f"test/{'ab'[i % 2]}/{i:05d}.png": png for i in range(2000)})
    page = _import(client, data)
    assert "too_large: 2000 images of 512x512x3 would decode to 1,500 MB" in page


def test_png_that_is_not_an_image_is_a_form_error(users, course) -> None:
    client = Client()
    client.force_login(users["teacher"])
    page = _import(client, _zip({"test/cat/1.png": _png(8), "test/dog/2.png": b"<html>"}))
    assert "not_an_image: test/dog/2.png is not an image" in page
