"""The diagnosis as an action (issue 15): a model trained on raw pixels, declared 'unit', is
graded by the real worker; its page shows the diagnosis in a warning box with a one-click
"Resubmit with 'raw'" that says it counts as a submission, and the resubmission scores well."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile

from competitions.models import Submission
from testsupport.browser import login, shot
from testsupport.mnist import fit_logreg, logreg_onnx

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]


def test_diagnosis_offers_one_click_resubmission_with_the_suggested_preset(
    page, live_server, users, competition, mnist_train, celery_worker, tmp_path
):
    sample = mnist_train.subset(np.arange(1000))
    sample.save_npz(tmp_path / "sample.npz")
    dataset = competition.dataset
    dataset.sample.save("sample.npz", ContentFile((tmp_path / "sample.npz").read_bytes()))
    dataset.sample_sha256 = sample.sha256
    dataset.save()
    w, b = fit_logreg(mnist_train.images[:1000], mnist_train.labels[:1000], 60)
    model = tmp_path / "raw-trained.onnx"
    model.write_bytes(logreg_onnx(w / 255.0, b))  # expects 0..255 pixels

    base = live_server.url
    login(page, base, "alice", "pw-alice-123")
    page.goto(f"{base}/c/{competition.slug}/")
    page.set_input_files("#submit-form input[name=file]", str(model))
    page.select_option("#submit-form select[name=preprocess]", "unit")
    page.click("#submit-form button[type=submit]")
    page.wait_for_selector('[data-status="scored"]', timeout=90_000)
    box = page.locator("#diagnosis")
    assert (
        "'raw'" in box.inner_text() and "counts as a submission (2 left today)" in box.inner_text()
    )
    assert box.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 244, 214)"
    shot(page, "student-diagnosis-action")
    first = Submission.objects.get(user=users["alice"])
    page.click("#resubmit")
    page.wait_for_selector("text=Resubmitted with 'raw': this counts as a submission")
    page.wait_for_selector('[data-status="scored"]', timeout=90_000)
    second = Submission.objects.exclude(pk=first.pk).get(user=users["alice"])
    assert second.preprocess == "raw" and second.sha256 == first.sha256
    assert second.public_score > first.public_score + 0.3
