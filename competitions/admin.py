from django.contrib import admin, messages

from competitions import models
from competitions.errors import ServiceError
from competitions.services.competitions import competition_create, competition_update
from competitions.services.standings import standings_rebuild
from competitions.services.submissions import (
    competition_close,
    competition_rescore_all,
    submission_rescore,
)


class _RebuildStandingsOnDelete(admin.ModelAdmin):
    """Deletions here bypass the services: rebuild the standings of the competitions touched."""

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        competition_id = obj.competition_id
        super().delete_model(request, obj)
        self._rebuild({competition_id})

    def delete_queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        ids = set(queryset.values_list("competition_id", flat=True))
        super().delete_queryset(request, queryset)
        self._rebuild(ids)

    @staticmethod
    def _rebuild(competition_ids: set[int]) -> None:
        for competition in models.Competition.objects.filter(pk__in=competition_ids):
            standings_rebuild(competition=competition)


@admin.register(models.Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "enrollment_code", "created_at")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(models.Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "role", "joined_at")
    list_filter = ("course", "role")
    search_fields = ("user__username", "user__email")


@admin.register(models.HeldOutDataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "source_format", "n_images", "image_shape", "sha256", "created_at")
    readonly_fields = ("sha256", "file_sha256", "file_bytes", "n_images", "classes", "image_shape")


@admin.register(models.Competition)
class CompetitionAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "course", "opens_at", "closes_at", "closed", "queue")
    list_filter = ("closed", "visibility", "queue")
    prepopulated_fields = {"slug": ("title",)}
    actions = ["close", "rescore_all"]

    # Saves go through the same services as the instructor pages: a changed split recomputes
    # the split scores, a changed dataset queues a rescore, or the edit is refused.
    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        values = {k: v for k, v in form.cleaned_data.items() if k in _COMPETITION_FIELDS}
        try:
            if change:
                done = competition_update(competition=obj, user=request.user, values=values)
                if done.split_rescored or done.requeued:
                    self.message_user(
                        request,
                        f"{done.split_rescored} split scores recomputed, "
                        f"{done.requeued} submissions queued for rescoring.",
                    )
            else:
                obj.pk = competition_create(user=request.user, values=values).pk
        except ServiceError as e:
            self.message_user(request, f"Not saved: {e.message}", level=messages.ERROR)

    @admin.action(description="Close (reveals the private leaderboard)")
    def close(self, request, queryset):  # type: ignore[no-untyped-def]
        for competition in queryset:
            competition_close(competition=competition, actor=request.user, reason="from the admin")

    @admin.action(description="Rescore every submission")
    def rescore_all(self, request, queryset):  # type: ignore[no-untyped-def]
        n = sum(
            competition_rescore_all(competition=c, actor=request.user, reason="from the admin")
            for c in queryset
        )
        self.message_user(request, f"{n} submissions queued for rescoring.")


_COMPETITION_FIELDS = {f.name for f in models.Competition._meta.concrete_fields}


@admin.register(models.Submission)
class SubmissionAdmin(_RebuildStandingsOnDelete):
    list_display = (
        "original_name",
        "user",
        "team",
        "competition",
        "status",
        "public_score",
        "private_score",
        "is_baseline",
        "hidden",
        "disqualified",
        "created_at",
    )
    list_filter = ("competition", "status", "is_baseline", "hidden", "disqualified")
    search_fields = ("user__username", "original_name", "sha256")
    exclude = ("predictions",)
    readonly_fields = (
        "sha256",
        "file_bytes",
        "attempts",
        "result",
        "public_scores",
        "private_scores",
        "log",
    )
    actions = ["rescore"]

    # Edits here bypass the services too: keep the leaderboard's standings table in step.
    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)
        standings_rebuild(competition=obj.competition)

    @admin.action(description="Rescore")
    def rescore(self, request, queryset):  # type: ignore[no-untyped-def]
        for sub in queryset.select_related("competition"):
            submission_rescore(submission=sub, actor=request.user, reason="from the admin")


@admin.register(models.Team)
class TeamAdmin(_RebuildStandingsOnDelete):  # a deleted team's entries become their authors'
    list_display = ("name", "competition", "created_at")


admin.site.register(models.RefusedUpload)


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at")
    exclude = ("key_hash",)


class LtiDeploymentInline(admin.TabularInline):
    model = models.LtiDeployment
    extra = 0


@admin.register(models.LtiPlatform)
class LtiPlatformAdmin(admin.ModelAdmin):
    """LMS registrations (docs/LTI.md); `manage.py lti_platform_add` does the same with checks."""

    list_display = ("issuer", "client_id", "created_at")
    inlines = [LtiDeploymentInline]


@admin.register(models.LtiContext)
class LtiContextAdmin(admin.ModelAdmin):
    """An LMS course and the Podium course it maps to: change `course` to link another one."""

    list_display = ("title", "context_id", "platform", "course", "synced_at")
    list_select_related = ("platform", "course")
    readonly_fields = ("platform", "deployment", "context_id", "synced_at", "sync_error")


@admin.register(models.AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only (competitions/models_audit.py)."""

    list_display = ("at", "actor", "action", "competition", "subject", "reason")
    list_filter = ("action",)
    search_fields = ("actor", "subject", "competition", "reason", "submission_id")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
