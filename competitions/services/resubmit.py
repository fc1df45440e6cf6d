"""Resubmitting a stored upload with other settings: the diagnosis' one-click "resubmit with
'raw'". It is a new submission like any other (quota, checks, queue), from the file kept."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from competitions.errors import NotAllowed
from competitions.models import Submission
from competitions.services.submissions import submission_create
from competitions.services.teams import team_for_user


def submission_resubmit(*, user: User, submission: Submission, preprocess: str) -> Submission:
    """The same file as `submission` (the user's own or their team's), declaring `preprocess`;
    counted against the quota as any upload."""
    competition = submission.competition
    team = team_for_user(competition=competition, user=user)
    mine = submission.user_id == user.pk and submission.team_id is None
    ours = team is not None and submission.team_id == team.pk
    if submission.is_baseline or not (mine or ours):
        raise NotAllowed("not_yours", "You can only resubmit your own (or your team's) upload.")
    with submission.file.open("rb") as f:
        data = f.read()
    return submission_create(
        user=user,
        competition=competition,
        upload=SimpleUploadedFile(submission.original_name, data),
        preprocess=preprocess,
        note=f"resubmitted with '{preprocess}' (diagnosis of {submission.original_name})",
    )
