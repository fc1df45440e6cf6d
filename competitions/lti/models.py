"""LTI 1.3 tables. Kept in this subpackage and re-exported by competitions/models.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class LtiPlatform(models.Model):
    """A registered LMS (one issuer and client id). Its JWKS verifies launches; its token URL
    gives the tool access tokens for NRPS and AGS."""

    issuer = models.CharField(max_length=255)
    client_id = models.CharField(max_length=255)
    auth_url = models.URLField(max_length=500, help_text="OIDC authorization endpoint")
    token_url = models.URLField(max_length=500, help_text="OAuth2 token endpoint")
    jwks_url = models.URLField(max_length=500, help_text="the platform's public keys")
    frame_origins = models.JSONField(
        default=list, help_text="origins that may show Podium in an iframe (CSP frame-ancestors)"
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the instructor who added it on the LTI page (empty: the command or the admin)",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "competitions"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "client_id"], name="uniq_lti_platform")
        ]

    def __str__(self) -> str:
        return f"{self.issuer} ({self.client_id})"


class LtiDeployment(models.Model):
    """A deployment of the tool on a platform; with a course, every context of it goes there."""

    platform = models.ForeignKey(LtiPlatform, on_delete=models.CASCADE, related_name="deployments")
    deployment_id = models.CharField(max_length=255)
    course = models.ForeignKey(
        "competitions.Course", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        app_label = "competitions"
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "deployment_id"], name="uniq_lti_deployment"
            )
        ]


class LtiContext(models.Model):
    """An LMS course (the launch's context claim) and the Podium course it maps to."""

    platform = models.ForeignKey(LtiPlatform, on_delete=models.CASCADE, related_name="contexts")
    deployment = models.ForeignKey(LtiDeployment, on_delete=models.CASCADE, related_name="+")
    context_id = models.CharField(max_length=255)
    title = models.CharField(max_length=255, blank=True)
    course = models.ForeignKey(
        "competitions.Course", on_delete=models.CASCADE, related_name="lti_contexts"
    )
    memberships_url = models.URLField(max_length=500, blank=True, help_text="NRPS endpoint")
    lineitems_url = models.URLField(max_length=500, blank=True, help_text="AGS container")
    ags_scopes = models.JSONField(default=list)
    synced_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.CharField(max_length=500, blank=True)

    class Meta:
        app_label = "competitions"
        constraints = [
            models.UniqueConstraint(fields=["platform", "context_id"], name="uniq_lti_context")
        ]


class LtiResourceLink(models.Model):
    """A link placed in the LMS; its line item receives the competition's grades."""

    context = models.ForeignKey(LtiContext, on_delete=models.CASCADE, related_name="links")
    resource_link_id = models.CharField(max_length=255)
    competition = models.ForeignKey(
        "competitions.Competition",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lti_links",
    )
    lineitem_url = models.URLField(max_length=500, blank=True)

    class Meta:
        app_label = "competitions"
        constraints = [
            models.UniqueConstraint(
                fields=["context", "resource_link_id"], name="uniq_lti_resource_link"
            )
        ]


class LtiIdentity(models.Model):
    """A Podium account as the platform knows it: one per (issuer, sub)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lti_identities"
    )
    issuer = models.CharField(max_length=255)
    sub = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "competitions"
        constraints = [models.UniqueConstraint(fields=["issuer", "sub"], name="uniq_lti_identity")]


class LtiKey(models.Model):
    """The tool's RSA key pairs; the newest signs, the recent ones stay in /lti/jwks/. The private
    key lives only in the database (never in the repository)."""

    kid = models.CharField(max_length=100, unique=True)
    private_pem = models.TextField()
    public_pem = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "competitions"
        ordering = ["-created_at", "-pk"]


class LtiNonce(models.Model):
    """A launch nonce already used: the unique row makes each nonce single-use."""

    issuer = models.CharField(max_length=255)
    nonce = models.CharField(max_length=255)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        app_label = "competitions"
        constraints = [models.UniqueConstraint(fields=["issuer", "nonce"], name="uniq_lti_nonce")]


class LtiGradePost(models.Model):
    """The last grade posted for one student to one line item: a post that would send the same
    value again is skipped (idempotent); a failure is kept for the instructor and retried."""

    link = models.ForeignKey(LtiResourceLink, on_delete=models.CASCADE, related_name="grades")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    grade = models.FloatField(null=True, blank=True, help_text="last value the platform took")
    posted_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        app_label = "competitions"
        constraints = [models.UniqueConstraint(fields=["link", "user"], name="uniq_lti_grade_post")]
