"""Web forms. Validation of business rules stays in services; forms only parse input."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.models import User
from django.db.models import Field
from django.utils import timezone

from competitions.grade_policy import PolicyError, policy_check
from competitions.models import Competition, HeldOutDataset
from competitions.preprocess import declaration_normalize
from competitions.services.submissions import PRESETS
from competitions.services.uploads import EXTENSIONS, FORMAT_LABELS, FORMATS
from grader.adapt import LAYOUTS
from grader.errors import Rejected

PREPROCESS_CHOICES = (
    [("", "automatic (model metadata, else unit: pixel/255)")]
    + [(p, p) for p in PRESETS]
    + [("custom", "custom mean/std")]
)
LAYOUT_CHOICES = [("", "automatic (from the model's input)")] + [(x, x) for x in LAYOUTS]


def _field_of(e: Rejected) -> str:
    """The form field a declaration refusal is about."""
    if e.code == "bad_layout":
        return "layout"
    first = e.message.split(" ", 1)[0]
    return first if first in ("mean", "std") else "preprocess"


class SubmitForm(forms.Form):
    file = forms.FileField(label="Model file")
    # Offered as choices, judged by the engine (a hand-made POST gets the API's and CLI's message).
    preprocess = forms.CharField(
        required=False,
        widget=forms.Select(choices=PREPROCESS_CHOICES),
        label="Preprocessing",
        help_text="what your model was trained on",
    )
    mean = forms.CharField(
        required=False, label="Mean", help_text="custom only: e.g. 0.4914, 0.4822, 0.4465"
    )
    std = forms.CharField(
        required=False, label="Std", help_text="custom only: e.g. 0.247, 0.243, 0.261"
    )
    layout = forms.CharField(
        required=False,
        widget=forms.Select(choices=LAYOUT_CHOICES),
        label="Layout",
        help_text="flat_chw for a model flattened from channel-first images (torch.flatten)",
    )
    note = forms.CharField(required=False, max_length=300, label="Note")

    def __init__(self, *args: Any, formats: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        formats = formats or ["onnx", "npz"]
        file = self.fields["file"]
        file.help_text = (
            f"{' or '.join(FORMAT_LABELS.get(f, '.' + f) for f in formats)}, "
            f"at most {settings.PODIUM_MAX_UPLOAD_MB} MB"
        )
        suffixes = [ext for ext, fmt in EXTENSIONS.items() if fmt in formats]
        file.widget.attrs["accept"] = ",".join("." + ext for ext in suffixes)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        try:  # the engine's judgement: the same refusals and messages as the API and the CLI
            data["declared"] = declaration_normalize(
                preprocess=data.get("preprocess"),
                mean=data.get("mean"),
                std=data.get("std"),
                layout=data.get("layout"),
            )
        except Rejected as e:
            # Beside the field it is about, named (the page lists every error at the top too);
            # the engine's own words, as the API and the CLI give them.
            field = _field_of(e)
            self.add_error(field, f"{self.fields[field].label}: {e.message}")
        return data


class JoinCourseForm(forms.Form):
    code = forms.CharField(max_length=32, label="Enrollment code")


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=80, label="Team name")


class TeamJoinForm(forms.Form):
    code = forms.CharField(max_length=32, label="Team code")


class RosterForm(forms.Form):
    csv_file = forms.FileField(help_text="header: username,email[,first_name,last_name][,role]")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class DatasetImportForm(forms.Form):
    name = forms.CharField(max_length=200)
    split = forms.CharField(max_length=40, initial="test")
    # The field keeps the HTML input's name; Django's form metaclass moves declared fields off the
    # class, so `form.files` is still the request's upload dict at run time.
    files = MultipleFileField(  # type: ignore[assignment]
        help_text="npz (X, y), image zip (test/<class>/*.jpg), CIFAR-10 archive, or the two MNIST "
        "IDX files (images and labels) together"
    )
    confirm = forms.BooleanField(
        required=False,
        label="Import anyway",
        help_text="after reading the warnings above (choose the files again: a browser does not "
        "keep them)",
    )


_DEFAULTED = ("late_policy", "late_penalty_pct", "late_days_max")


class CompetitionForm(forms.ModelForm):
    # Not a model field: the view pops it and attaches the baselines once the competition exists.
    attach_baselines = forms.BooleanField(
        required=False,
        initial=True,
        label="Reference baselines",
        help_text="attach the course's baseline models that take this dataset's images (MNIST "
        "or CIFAR-10 shapes, 10 classes): graded onto the leaderboard, and the anchors of the "
        "grades CSV",
    )
    allowed_formats = forms.MultipleChoiceField(
        choices=[(f, FORMAT_LABELS[f]) for f in FORMATS],
        widget=forms.CheckboxSelectMultiple,
        initial=list(FORMATS),
    )

    class Meta:
        model = Competition
        fields = [
            "course",
            "slug",
            "title",
            "description",
            "rules",
            "dataset",
            "metric",
            "public_fraction",
            "split_seed",
            "opens_at",
            "closes_at",
            "daily_limit",
            "total_limit",
            "max_team_size",
            "allowed_formats",
            "time_limit_s",
            "memory_mb",
            "visibility",
            "queue",
            "late_policy",
            "late_penalty_pct",
            "late_days_max",
            "grade_policy",
            "robustness",
        ]
        labels = {
            "public_fraction": "Public split (fraction)",
            "split_seed": "Split seed",
            "opens_at": "Opens at",
            "closes_at": "Closes at",
            "daily_limit": "Submissions per day",
            "total_limit": "Submissions in total",
            "max_team_size": "Largest team",
            "time_limit_s": "Time limit (s)",
            "memory_mb": "Memory (MB)",
        }
        help_texts = {
            "course": "whose members see and enter it (public ones: anyone can enter)",
            "slug": "the address: /c/<slug>/ (letters, digits, hyphens)",
            "description": "shown on the competition page; Markdown (**bold**, lists, links, "
            "tables; no HTML)",
            "rules": "Markdown, shown under the description",
            "dataset": "the held-out images the submissions are scored on",
            "public_fraction": "share of the images on the public leaderboard before the close; "
            "the rest decide the final standings",
            "split_seed": "changing it re-draws the split (scores are recomputed)",
            "daily_limit": "per student or team; resets at midnight",
            "total_limit": "per student or team, for the whole competition",
            "max_team_size": "1: individuals only",
            "allowed_formats": "what students may upload",
            "time_limit_s": "for grading one submission, the diagnosis included",
            "memory_mb": "address space of the process that runs one model",
            "visibility": "course members only, or everyone (leaderboard without logging in)",
            "queue": "gpu: graded by workers on the GPU queue",
            "grade_policy": (
                'JSON, empty for none. {"kind": "linear", "low": 0.90, "high": 0.99, "none": 0}; '
                '{"kind": "thresholds", "steps": [[0.95, 100], [0.9, 80]]}; '
                '{"kind": "ranks", "bands": [[0.1, 100], [0.5, 85], [1, 70]]} (rank fraction '
                'among students and teams). "none": the grade without a scored entry.'
            ),
        }
        widgets = {
            "opens_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "closes_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "description": forms.Textarea(attrs={"rows": 4}),
            "rules": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args: Any, courses: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            del self.fields["attach_baselines"]  # offered when creating; edits keep what is there
        if courses is not None:
            cast(forms.ModelChoiceField, self.fields["course"]).queryset = courses
        datasets = HeldOutDataset.objects.order_by("name")
        cast(forms.ModelChoiceField, self.fields["dataset"]).queryset = datasets
        zone = timezone.get_current_timezone_name()
        for name in ("opens_at", "closes_at"):
            field = cast(forms.DateTimeField, self.fields[name])
            field.input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"]
            field.help_text = f"date and time in {zone} (the server's time zone)"
        for name in _DEFAULTED:  # left out of a POST: the model's default (late work refused)
            self.fields[name].required = False

    def clean_grade_policy(self) -> dict[str, Any]:
        try:
            return policy_check(self.cleaned_data.get("grade_policy") or {})
        except PolicyError as e:
            raise forms.ValidationError(str(e)) from None

    def _defaulted(self, name: str) -> Any:
        value = self.cleaned_data.get(name)
        if value in (None, ""):
            return cast("Field[Any, Any]", Competition._meta.get_field(name)).get_default()
        return value

    def clean_late_policy(self) -> str:
        return str(self._defaulted("late_policy"))

    def clean_late_days_max(self) -> int:
        return int(self._defaulted("late_days_max"))

    def clean_late_penalty_pct(self) -> float:
        value = float(self._defaulted("late_penalty_pct"))
        if not 0.0 <= value <= 100.0:
            raise forms.ValidationError("Between 0 and 100 (% of the grade per day late).")
        return value

    def clean_public_fraction(self) -> float:
        value = self.cleaned_data["public_fraction"]
        if not 0.0 < value < 1.0:
            raise forms.ValidationError("Between 0 and 1, exclusive.")
        return value

    def clean_time_limit_s(self) -> int:
        # The worker's own soft limit must never fire first: it would leave the row "running"
        # for the sweeper instead of failing it at once with time_limit.
        value = self.cleaned_data["time_limit_s"]
        most = max(settings.CELERY_TASK_SOFT_TIME_LIMIT - 60, 1)
        if not 1 <= value <= most:
            raise forms.ValidationError(
                f"Between 1 and {most} s (the worker's own limit is "
                f"{settings.CELERY_TASK_SOFT_TIME_LIMIT} s)."
            )
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("opens_at") and data.get("closes_at") and data["closes_at"] <= data["opens_at"]:
            self.add_error("closes_at", "The competition must close after it opens.")
        return data


def _same_address(a: str, b: str) -> bool:
    return (
        unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize("NFKC", b).casefold()
    )


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's form, except that an account a roster import created (no usable password yet)
    can ask for the link too: it is how a student whose invitation expired gets in."""

    def get_users(self, email: str) -> Iterator[User]:
        for user in User._default_manager.filter(email__iexact=email, is_active=True):
            if _same_address(email, user.email):
                yield user


class ExtensionForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="the student (their team's, if in one)")
    closes_at = forms.DateTimeField(
        required=False,
        label="New deadline",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"],
    )
    extra_daily = forms.IntegerField(
        min_value=0, max_value=1000, initial=0, required=False, label="Extra per day"
    )
    extra_total = forms.IntegerField(
        min_value=0, max_value=10000, initial=0, required=False, label="Extra in all"
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="the student sees it"
    )
