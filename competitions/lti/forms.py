"""The instructor's form to register an LMS (the same fields as `manage.py lti_platform_add`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User

from competitions.selectors.access import course_list_taught


class PlatformForm(forms.Form):
    issuer = forms.CharField(max_length=255, help_text="the LMS's Platform ID / issuer (iss)")
    client_id = forms.CharField(max_length=255, label="Client ID")
    deployment_id = forms.CharField(max_length=255, label="Deployment ID")
    auth_url = forms.URLField(max_length=500, label="Authentication request URL")
    token_url = forms.URLField(max_length=500, label="Access token URL")
    jwks_url = forms.URLField(max_length=500, label="Public keyset URL")
    course = forms.ChoiceField(
        required=False,
        help_text="every LMS course of this deployment goes to this course (empty: one Podium "
        "course per LMS course, made on its first instructor launch)",
    )
    frame_origins = forms.CharField(
        required=False,
        max_length=1000,
        help_text="origins showing Podium in an iframe, when not the issuer's (space-separated)",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        taught = course_list_taught(user=user).order_by("name")
        course = self.fields["course"]
        assert isinstance(course, forms.ChoiceField)
        course.choices = [("", "–")] + [(c.slug, c.name) for c in taught]
