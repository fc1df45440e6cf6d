"""Names of the LTI 1.3 claims Podium reads (IMS LTI Core 1.3, NRPS 2.0, AGS 2.0)."""

from __future__ import annotations

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DEPLOYMENT_ID = LTI + "deployment_id"
MESSAGE_TYPE = LTI + "message_type"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
RESOURCE_LINK = LTI + "resource_link"
TARGET_LINK_URI = LTI + "target_link_uri"
CUSTOM = LTI + "custom"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"

# Context roles (LIS v2) that make an instructor of the Podium course; the rest are students.
_MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTRUCTOR_ROLES = frozenset(
    {
        _MEMBERSHIP + "Instructor",
        _MEMBERSHIP + "Administrator",
        _MEMBERSHIP + "ContentDeveloper",
        _MEMBERSHIP + "Instructor#TeachingAssistant",
        # LTI 1.3 allows the short form for context roles.
        "Instructor",
        "Administrator",
        "ContentDeveloper",
    }
)
LEARNER_ROLES = frozenset({_MEMBERSHIP + "Learner", "Learner"})

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"


def is_instructor(roles: object) -> bool:
    return isinstance(roles, list) and any(r in INSTRUCTOR_ROLES for r in roles)


def is_learner(roles: object) -> bool:
    return isinstance(roles, list) and any(r in LEARNER_ROLES for r in roles)
