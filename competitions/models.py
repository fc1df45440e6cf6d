"""Podium's tables. Writes go through competitions.services, reads through competitions.selectors."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.utils import timezone

# Models kept in modules of their own, re-exported so Django and callers find them here.
from competitions.lti.models import LtiContext as LtiContext
from competitions.lti.models import LtiDeployment as LtiDeployment
from competitions.lti.models import LtiGradePost as LtiGradePost
from competitions.lti.models import LtiIdentity as LtiIdentity
from competitions.lti.models import LtiKey as LtiKey
from competitions.lti.models import LtiNonce as LtiNonce
from competitions.lti.models import LtiPlatform as LtiPlatform
from competitions.lti.models import LtiResourceLink as LtiResourceLink
from competitions.models_audit import AuditEntry as AuditEntry
from competitions.models_course import Announcement as Announcement
from competitions.models_course import Extension as Extension
from competitions.models_notify import Notification as Notification
from competitions.models_notify import NotifyPrefs as NotifyPrefs
from competitions.models_onboarding import Invitation as Invitation
from competitions.models_ops import ApiToken as ApiToken
from competitions.models_ops import StaffAlert as StaffAlert
from competitions.models_ops import WorkerSeen as WorkerSeen
from competitions.models_standing import Standing as Standing

User = settings.AUTH_USER_MODEL


def private_storage() -> Any:
    """Uploads and datasets: never served by URL, only streamed by permission-checking views."""
    return storages["private"]


def _dataset_path(instance: HeldOutDataset, filename: str) -> str:
    return f"datasets/{uuid.uuid4().hex}.npz"


def _preview_path(instance: HeldOutDataset, filename: str) -> str:
    return f"datasets/previews/{uuid.uuid4().hex}.png"


def _upload_path(instance: Submission, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"submissions/{instance.competition_id}/{uuid.uuid4().hex}.{ext}"


class Course(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    enrollment_code = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        STUDENT = "student"
        INSTRUCTOR = "instructor"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["course", "user"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.course} ({self.role})"


class HeldOutDataset(models.Model):
    name = models.CharField(max_length=200, unique=True)
    file = models.FileField(storage=private_storage, upload_to=_dataset_path)
    source_format = models.CharField(max_length=40, help_text="format of the imported file(s)")
    split = models.CharField(max_length=40, blank=True)
    n_images = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True, help_text="engine content hash")
    file_sha256 = models.CharField(max_length=64)
    file_bytes = models.BigIntegerField()
    classes = models.JSONField(default=list)
    image_shape = models.JSONField(default=list, help_text="[H, W, C]")
    preview = models.FileField(storage=private_storage, upload_to=_preview_path, blank=True)
    sample = models.FileField(
        storage=private_storage,
        upload_to=_dataset_path,
        blank=True,
        help_text="public training sample (npz) the engine uses to diagnose preprocessing",
    )
    sample_sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} ({self.n_images} images)"


class Competition(models.Model):
    class Metric(models.TextChoices):
        ACCURACY = "accuracy"

    class Visibility(models.TextChoices):
        COURSE = "course", "course members"
        PUBLIC = "public", "everyone"

    class Queue(models.TextChoices):
        CPU = "cpu"
        GPU = "gpu"

    course = models.ForeignKey(
        Course, null=True, blank=True, on_delete=models.CASCADE, related_name="competitions"
    )
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown")
    rules = models.TextField(blank=True, help_text="Markdown")
    dataset = models.ForeignKey(HeldOutDataset, on_delete=models.PROTECT)
    metric = models.CharField(max_length=20, choices=Metric.choices, default=Metric.ACCURACY)
    public_fraction = models.FloatField(default=0.5)
    split_seed = models.IntegerField(default=0)
    opens_at = models.DateTimeField(default=timezone.now)
    closes_at = models.DateTimeField()
    daily_limit = models.PositiveIntegerField(default=5)
    total_limit = models.PositiveIntegerField(default=100)
    max_team_size = models.PositiveIntegerField(default=1)
    allowed_formats = models.JSONField(default=list, help_text='e.g. ["onnx", "npz"]')
    time_limit_s = models.PositiveIntegerField(default=120)
    memory_mb = models.PositiveIntegerField(default=3072)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.COURSE
    )
    queue = models.CharField(max_length=8, choices=Queue.choices, default=Queue.CPU)
    robustness = models.BooleanField(
        default=False,
        help_text="also score each submission on corrupted copies of held-out images "
        "(noise, blur, contrast, brightness, shift, rotation)",
    )
    closed = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class LatePolicy(models.TextChoices):
        REFUSE = "refuse", "refuse after the deadline"
        PENALTY = "penalty", "accept with a penalty per day late"

    late_policy = models.CharField(
        max_length=10, choices=LatePolicy.choices, default=LatePolicy.REFUSE
    )
    late_penalty_pct = models.FloatField(default=10.0, help_text="% of the grade lost per day")
    late_days_max = models.PositiveIntegerField(default=3, help_text="days late work is accepted")
    # The last moment anyone may still submit (closes_at, extensions, the late window): nothing
    # the close reveals is shown before it. Kept by competitions.services.exceptions.
    last_deadline = models.DateTimeField(null=True, blank=True)
    # How the grades CSV and LMS grade passback turn a score into a grade (grade_policy.py).
    grade_policy = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-opens_at"]

    def __str__(self) -> str:
        return self.title

    def is_finished(self, now: Any = None) -> bool:
        """Closed by an instructor, or past the last deadline anyone has (extensions and the late
        window included): private scores, the gallery and the final standings are revealed."""
        return self.closed or (now or timezone.now()) >= (self.last_deadline or self.closes_at)

    def past_deadline(self, now: Any = None) -> bool:
        """Closed, or past the regular deadline (entrants with an extension may still submit)."""
        return self.closed or (now or timezone.now()) >= self.closes_at

    def accepts_submissions(self, now: Any = None) -> bool:
        """Open to everyone right now (regular deadline)."""
        now = now or timezone.now()
        return not self.past_deadline(now) and now >= self.opens_at


class Team(models.Model):
    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=80)
    join_code = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["competition", "name"], name="uniq_team_name")
        ]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="team_memberships")
    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["competition", "user"], name="one_team_per_competition")
        ]


class Submission(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SCORED = "scored"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    competition = models.ForeignKey(
        Competition, on_delete=models.CASCADE, related_name="submissions"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="submissions")
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions"
    )
    is_baseline = models.BooleanField(default=False)
    label = models.CharField(max_length=120, blank=True, help_text="baseline name")
    file = models.FileField(storage=private_storage, upload_to=_upload_path, max_length=200)
    file_format = models.CharField(max_length=10)
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=120, help_text="sanitized display text only")
    file_bytes = models.BigIntegerField(default=0)
    preprocess = models.CharField(max_length=20, blank=True, help_text="blank: automatic")
    mean = models.JSONField(null=True, blank=True)
    std = models.JSONField(null=True, blank=True)
    layout = models.CharField(max_length=20, blank=True, default="", help_text="blank: automatic")
    note = models.CharField(max_length=300, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    progress = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)  # entered the queue
    queued_since = models.DateTimeField(
        null=True, blank=True, help_text="when it last became queued (a re-send keeps it)"
    )
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="its message was sent to a worker (services/dispatch.py)"
    )
    is_rescore = models.BooleanField(
        default=False, help_text="queued again by staff: graded after students' submissions"
    )
    queue_round = models.PositiveIntegerField(
        default=0, help_text="its round in the queue's round-robin (selectors/queue.py)"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    log = models.TextField(blank=True)
    counts_toward_quota = models.BooleanField(default=True)

    public_score = models.FloatField(null=True, blank=True)
    private_score = models.FloatField(null=True, blank=True)
    params = models.BigIntegerField(null=True, blank=True)
    macs = models.BigIntegerField(null=True, blank=True)
    ms_per_image = models.FloatField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True, help_text="GradeResult.to_dict()")
    public_scores = models.JSONField(null=True, blank=True)
    private_scores = models.JSONField(null=True, blank=True)
    predictions = models.BinaryField(null=True, blank=True, help_text="int16 per image")
    correct = models.BinaryField(
        null=True, blank=True, help_text="per-image correctness, packed bits (significance.py)"
    )
    public_ci = models.JSONField(null=True, blank=True, help_text="[low, high], 95% bootstrap")
    private_ci = models.JSONField(null=True, blank=True, help_text="[low, high], 95% bootstrap")
    public_robust = models.FloatField(null=True, blank=True, help_text="mean corrupted accuracy")
    private_robust = models.FloatField(null=True, blank=True)
    robust_scores = models.JSONField(
        null=True, blank=True, help_text="per split: accuracy per corruption and their mean"
    )

    is_final = models.BooleanField(default=False, help_text="chosen for the final standings")
    late_days = models.PositiveIntegerField(default=0, help_text="whole days after the deadline")
    hidden = models.BooleanField(default=False)
    disqualified = models.BooleanField(default=False)
    flag_reason = models.CharField(
        max_length=300, blank=True, help_text="the instructor's reason, shown to the entrant"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["competition", "status"]),
            models.Index(fields=["competition", "user", "created_at"]),
            models.Index(fields=["status", "enqueued_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} by {self.user} ({self.status})"

    @property
    def is_done(self) -> bool:
        return self.status in (self.Status.SCORED, self.Status.FAILED)


class RefusedUpload(models.Model):
    """An upload refused at once (bad file, limits): not a submission, but counted for floods."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    code = models.CharField(max_length=40)
    message = models.TextField(blank=True)
