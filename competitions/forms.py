"""Web forms. Validation of business rules stays in services; forms only parse input."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils import timezone

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
    except Rejected as e:  # shown next to the field, and named for the messages list
        raise forms.ValidationError({field: f"{field.capitalize()}: {e.message}"}) from None
    return None if values is None else list(values)


class SubmitForm(forms.Form):
    file = forms.FileField(label="Model file")
    preprocess = forms.ChoiceField(
        choices=PREPROCESS_CHOICES,
        required=False,
        label="Preprocessing",
        help_text="what your model was trained on",
    )
    mean = forms.CharField(
        required=False, label="Mean", help_text="custom only: e.g. 0.4914, 0.4822, 0.4465"
    )
    std = forms.CharField(
        required=False, label="Std", help_text="custom only: e.g. 0.247, 0.243, 0.261"
    )
    note = forms.CharField(required=False, max_length=300, label="Note")

    def __init__(self, *args: Any, formats: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        formats = formats or ["onnx", "npz"]
        names = {"onnx": "ONNX model (.onnx)", "npz": "NumPy network (.npz)"}
        file = self.fields["file"]
        file.help_text = (
            f"{' or '.join(names.get(f, '.' + f) for f in formats)}, "
            f"at most {settings.PODIUM_MAX_UPLOAD_MB} MB"
        )
        file.widget.attrs["accept"] = ",".join("." + f for f in formats)

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
    confirm = forms.BooleanField(
        required=False,
        label="Import anyway",
        help_text="after reading the warnings above (choose the files again: a browser does not "
        "keep them)",
    )


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
