from django.urls import path

from competitions.views import (
    account,
    audit,
    exceptions,
    instructor,
    leaderboard,
    notifications,
    onboarding,
    staff,
    streams,
    student,
)

app_name = "competitions"

urlpatterns = [
    path("", student.home, name="home"),
    path("courses/join/", student.course_join, name="course_join"),
    path("account/tokens/", account.tokens, name="tokens"),
    path("c/<slug:slug>/", student.competition_detail, name="detail"),
    path("c/<slug:slug>/submit/", student.submit, name="submit"),
    path("c/<slug:slug>/starter-kit.zip", student.starter_kit, name="starter_kit"),
    path("c/<slug:slug>/leaderboard/", leaderboard.leaderboard, name="leaderboard"),
    path(
        "c/<slug:slug>/leaderboard/events/",
        streams.leaderboard_events,
        name="leaderboard_events",
    ),
    path("c/<slug:slug>/team/<str:action>/", student.team_action, name="team"),
    path("s/<str:pk>/", student.submission_detail, name="submission"),
    path("s/<str:pk>/status/", student.submission_status, name="submission_status"),
    path("s/<str:pk>/events/", streams.submission_events, name="submission_events"),
    path("s/<str:pk>/choose/", student.submission_choose, name="submission_choose"),
    path("s/<str:pk>/resubmit/", student.submission_resubmit, name="submission_resubmit"),
    path("s/<str:pk>/gallery/", student.submission_gallery, name="gallery"),
    path("s/<str:pk>/do/<str:action>/", instructor.submission_action, name="submission_action"),
    path("teach/", instructor.dashboard, name="teach"),
    path("teach/status/", staff.status, name="status"),
    path("teach/new/", instructor.competition_edit, name="competition_new"),
    path("teach/c/<slug:slug>/edit/", instructor.competition_edit, name="competition_edit"),
    path(
        "teach/c/<slug:slug>/submissions/", instructor.competition_submissions, name="submissions"
    ),
    path(
        "teach/c/<slug:slug>/do/<str:action>/",
        instructor.competition_action,
        name="competition_action",
    ),
    path("teach/c/<slug:slug>/similarity/", staff.similarity, name="similarity"),
    path("teach/c/<slug:slug>/participation/", staff.participation, name="participation"),
    path(
        "teach/c/<slug:slug>/students/<str:username>/",
        staff.student_progress,
        name="student_progress",
    ),
    path("teach/c/<slug:slug>/standings.csv", instructor.export_standings, name="export_standings"),
    path("teach/c/<slug:slug>/grades.csv", instructor.export_grades, name="export_grades"),
    path("teach/datasets/import/", instructor.dataset_import, name="dataset_import"),
    path("teach/datasets/<int:pk>/", instructor.dataset_detail, name="dataset"),
    path("teach/datasets/<int:pk>/preview.png", instructor.dataset_preview, name="dataset_preview"),
    path("teach/courses/<slug:slug>/roster/", instructor.course_roster, name="roster"),
    path(
        "teach/courses/<slug:slug>/roster/resend/<int:user_id>/",
        onboarding.roster_resend,
        name="roster_resend",
    ),
    path("teach/courses/<slug:slug>/log/", audit.course_audit, name="audit"),
    path(
        "teach/c/<slug:slug>/exceptions/",
        exceptions.competition_exceptions,
        name="exceptions",
    ),
    path("invite/<str:token>/", onboarding.invitation, name="invitation"),
    path("notifications/", notifications.notifications, name="notifications"),
]
