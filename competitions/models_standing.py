"""The standings table behind every leaderboard (one row per entrant)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

User = settings.AUTH_USER_MODEL


class Standing(models.Model):
    """One leaderboard row per entrant (baseline, team or student alone), kept current by
    competitions.services.standings in the same transaction as every write that changes it, so
    reading a leaderboard costs the number of entrants, not of submissions. Derived data: the
    window query in competitions.selectors.leaderboard recomputes it (`rebuild_standings`)."""

    competition = models.ForeignKey(
        "competitions.Competition", on_delete=models.CASCADE, related_name="+"
    )
    entrant = models.CharField(max_length=48, help_text="b:<submission> | t:<team> | u:<user>")
    submission = models.ForeignKey(
        "competitions.Submission", on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(
        "competitions.Team", null=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=150)
    is_baseline = models.BooleanField(default=False)
    public_score = models.FloatField()
    private_score = models.FloatField(null=True)
    params = models.BigIntegerField(null=True)
    macs = models.BigIntegerField(null=True)
    file_bytes = models.BigIntegerField(default=0)
    entries = models.PositiveIntegerField()
    last_submission = models.DateTimeField()
    submitted_at = models.DateTimeField()
    public_ci = models.JSONField(null=True)
    private_ci = models.JSONField(null=True)
    public_robust = models.FloatField(null=True)
    private_robust = models.FloatField(null=True)
    # Whether the row is not significantly different from the row directly above it in each
    # split's order, and which submission that row showed when it was decided (so a refresh
    # recomputes only the pairs that changed: competitions.services.ties).
    tied_public = models.BooleanField(default=False)
    tied_private = models.BooleanField(default=False)
    public_prev = models.UUIDField(null=True)
    private_prev = models.UUIDField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "entrant"], name="one_standing_per_entrant"
            )
        ]
