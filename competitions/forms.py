"""Web forms. Validation of business rules stays in services; forms only parse input."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings

from competitions.models import Competition, HeldOutDataset
from competitions.services.submissions import PRESETS
from grader.errors import Rejected
from grader.preprocess import parse_values

PREPROCESS_CHOICES = (
    [("", "automatic (model metadata, else unit: pixel/255)")]
    + [(p, p) for p in PRESETS]
    + [("custom", "custom mean/std")]
)


def _floats(text: str, field: str) -> list[float] | None:
    try:
        values = parse_values(text, field)
    except Rejected as e:
        raise forms.ValidationError({field: e.message}) from None
    return None if values is None else list(values)


class SubmitForm(forms.Form):
    file = forms.FileField(help_text="ONNX model (.onnx) or NumPy network (.npz)")
    preprocess = forms.ChoiceField(choices=PREPROCESS_CHOICES, required=False)
    mean = forms.CharField(required=False, help_text="custom only: e.g. 0.4914, 0.4822, 0.4465")
    std = forms.CharField(required=False, help_text="custom only: e.g. 0.247, 0.243, 0.261")
    note = forms.CharField(required=False, max_length=300)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        data["mean_list"] = _floats(data.get("mean", ""), "mean")
        data["std_list"] = _floats(data.get("std", ""), "std")
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


class CompetitionForm(forms.ModelForm):
    allowed_formats = forms.MultipleChoiceField(
        choices=[("onnx", "ONNX (.onnx)"), ("npz", "NumPy network (.npz)")],
        widget=forms.CheckboxSelectMultiple,
        initial=["onnx", "npz"],
    )

    class Meta:
        model = Competition
        fields = [
            "course",
            "slug",
            "title",
            "description",
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
            "robustness",
        ]
        widgets = {
            "opens_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "closes_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "description": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args: Any, courses: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if courses is not None:
            cast(forms.ModelChoiceField, self.fields["course"]).queryset = courses
        datasets = HeldOutDataset.objects.order_by("name")
        cast(forms.ModelChoiceField, self.fields["dataset"]).queryset = datasets
        for name in ("opens_at", "closes_at"):
            field = cast(forms.DateTimeField, self.fields[name])
            field.input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"]

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
            raise forms.ValidationError("The competition must close after it opens.")
        return data
