"""Refusals the web and API layers show to people: one registry of stable codes.

Every code has exactly one HTTP status and a default message here; services raise them by code
(`Refused("closed", "...")`) and the status always comes from this table, whichever class is
raised. The engine's own refusals (grader.errors: a file that cannot be scored, a malformed
dataset) keep their codes and messages and are 400, unless this table names the code.
docs/API.md lists the same table (tests/competitions/test_web_errors.py keeps them in step).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    status: int
    message: str


ENGINE_REFUSAL = ErrorCode(400, "The file or dataset cannot be used as it is.")

ERRORS: dict[str, ErrorCode] = {
    # uploads
    "not_open": ErrorCode(400, "This competition has not opened yet."),
    "closed": ErrorCode(400, "This competition is closed."),
    "bad_format": ErrorCode(400, "This file format is not accepted here."),
    "too_large": ErrorCode(413, "The file is over the upload limit."),
    "bad_preprocess": ErrorCode(400, "mean/std: comma-separated numbers."),
    "flood": ErrorCode(400, "Too many refused uploads in the last hour."),
    "daily_quota": ErrorCode(429, "Daily submission limit reached."),
    "total_quota": ErrorCode(429, "All submissions of this competition are used."),
    "storage_full": ErrorCode(503, "The server has no space left to store your file."),
    "storage_error": ErrorCode(503, "The server could not store your file."),
    # final choice
    "not_scored": ErrorCode(400, "Only a scored submission can be chosen."),
    "not_yours": ErrorCode(403, "You can only choose your own (or your team's) entry."),
    "not_eligible": ErrorCode(400, "A hidden or disqualified submission cannot be chosen."),
    # teams and courses
    "no_teams": ErrorCode(400, "This competition is for individuals only."),
    "in_team": ErrorCode(400, "You are already in a team for this competition."),
    "has_submissions": ErrorCode(400, "You have already submitted alone; teams form before."),
    "bad_name": ErrorCode(400, "Give the team a name."),
    "name_taken": ErrorCode(400, "This name is already taken."),
    "bad_code": ErrorCode(400, "No course or team has this code."),
    "team_full": ErrorCode(400, "The team is full."),
    "no_team": ErrorCode(400, "You are not in a team."),
    "team_submitted": ErrorCode(400, "The team has submitted: members can no longer leave."),
    "bad_roster": ErrorCode(400, "The CSV needs a header row with at least 'username'."),
    "invitation_invalid": ErrorCode(400, "This invitation link cannot be used."),
    # LTI launches (the /lti/ pages show them; docs/LTI.md)
    "lti_invalid": ErrorCode(400, "This LMS launch could not be verified."),
    "lti_replayed": ErrorCode(400, "This launch was already used. Open Podium again from the LMS."),
    "lti_no_course": ErrorCode(403, "Your instructor has not opened Podium in this course yet."),
    "lti_role": ErrorCode(403, "Podium opens for instructors and learners only."),
    "lti_not_instructor": ErrorCode(403, "Only the course's instructors can do this."),
    "lti_bad_platform": ErrorCode(400, "These LMS registration values cannot be used."),
    "lti_platform_taken": ErrorCode(
        403, "This LMS registration exists already; ask the site's administrator to change it."
    ),
    # any typed text (note, label, names)
    "bad_text": ErrorCode(400, "Text cannot contain NUL (\\x00) characters."),
    # instructors
    "no_file": ErrorCode(400, "Choose at least one file."),
    "dataset_warnings": ErrorCode(400, "The dataset looks wrong or is already imported."),
    "course_required": ErrorCode(400, "Choose one of your courses."),
    "grading_in_progress": ErrorCode(400, "Submissions are being graded; try again after."),
    "bad_exception": ErrorCode(
        400, "An exception needs a reason and a later deadline or extra submissions."
    ),
    "closes_in_past": ErrorCode(400, "The close time has passed: set a later one to reopen."),
    # the API itself
    "bad_credentials": ErrorCode(401, "Wrong username or password."),
    "login_locked": ErrorCode(
        429, "Too many failed logins for this username from your address; try again later."
    ),
    "too_many_tokens": ErrorCode(409, "You have the most API tokens allowed; revoke one first."),
    "unauthorized": ErrorCode(401, "Authentication required: Authorization: Bearer <token>."),
    "not_found": ErrorCode(404, "Not found."),
    "validation_error": ErrorCode(422, "The request's parameters are not valid."),
    "throttled": ErrorCode(429, "Too many requests; try again later."),
    "internal_error": ErrorCode(500, "Internal error; staff can see the log."),
}


def error_code(code: str) -> ErrorCode:
    return ERRORS.get(code, ENGINE_REFUSAL)


def error_body(code: str, message: str | None = None) -> dict[str, str]:
    """The one JSON shape of every API error."""
    return {"code": code, "message": message or error_code(code).message}


class ServiceError(Exception):
    """A refusal with a registered code (or an engine refusal's code); `status` follows it."""

    def __init__(self, code: str, message: str | None = None) -> None:
        spec = error_code(code)
        self.code = code
        self.message = message or spec.message
        self.status = spec.status
        super().__init__(f"{code}: {self.message}")

    def to_dict(self) -> dict[str, str]:
        return error_body(self.code, self.message)


class Refused(ServiceError):
    """The upload or action was refused; nothing was recorded against the quota."""


class QuotaExceeded(ServiceError):
    """The entrant has used its submissions (daily or total)."""


class NotAllowed(ServiceError):
    """Not this user's to do."""


class NotFound(Exception):
    """No such object, or not one this user may see (the same to them): pages and the API
    answer 404 (`not_found`)."""
