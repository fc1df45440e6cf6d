"""Courses, enrollment codes and roster import."""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import transaction

from competitions.errors import Refused
from competitions.models import Course, Membership
from competitions.services.audit import Actor, audit_record
from competitions.services.invitations import onboarding_send
from competitions.text import text_problem


def code_generate(length: int = 8) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
    return "".join(secrets.choice(alphabet) for _ in range(length))


def course_create(
    *, slug: str, name: str, instructor: User | None = None, code: str | None = None
) -> Course:
    with transaction.atomic():
        course = Course.objects.create(
            slug=slug, name=name, enrollment_code=code or code_generate()
        )
        if instructor is not None:
            Membership.objects.create(
                course=course, user=instructor, role=Membership.Role.INSTRUCTOR
            )
    return course


def course_join(*, user: User, code: str) -> Course:
    course = Course.objects.filter(enrollment_code=code.strip().upper()).first()
    if course is None:
        raise Refused("bad_code", "No course has this enrollment code.")
    Membership.objects.get_or_create(course=course, user=user)
    return course


@dataclass
class RosterReport:
    created: list[str] = field(default_factory=list)
    enrolled: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    mailed: int = 0  # invitations and enrolment notices sent
    mail_failed: int = 0  # kept on the invitations; the roster page offers to send them again


_STORED = ("username", "email", "first_name", "last_name")


def course_roster_import(
    *, course: Course, csv_text: str, site: str | None = None, actor: Actor = None
) -> RosterReport:
    """CSV with a header: username,email[,first_name,last_name][,role]. New accounts get no
    password but an invitation e-mail with a single-use link to set one; existing accounts newly
    enrolled are told by e-mail. Mail goes out after the import committed, only when `site` (the
    site's absolute root URL, for the links) is given."""
    report = RosterReport()
    invited: list[User] = []
    told: list[User] = []
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    if not reader.fieldnames or "username" not in [f.strip() for f in reader.fieldnames]:
        raise Refused("bad_roster", "The CSV needs a header row with at least 'username'.")
    with transaction.atomic():
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            username = row.get("username", "")
            if not username or len(username) > 150:
                report.errors.append(f"line {line}: missing or too long username")
                continue
            bad = next((k for k in _STORED if text_problem(row.get(k, ""))), None)
            if bad is not None:
                report.errors.append(f"line {line}: {bad}: {text_problem(row[bad])}")
                continue
            role = row.get("role") or Membership.Role.STUDENT
            if role not in Membership.Role.values:
                report.errors.append(f"line {line}: unknown role {role!r}")
                continue
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "email": row.get("email", ""),
                    "first_name": row.get("first_name", ""),
                    "last_name": row.get("last_name", ""),
                },
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                report.created.append(username)
                invited.append(user)
            _, joined = Membership.objects.update_or_create(
                course=course, user=user, defaults={"role": role}
            )
            if joined and not created:
                told.append(user)
            report.enrolled.append(username)
        audit_record(
            actor=actor,
            action="roster",
            course=course,
            details={"enrolled": len(report.enrolled), "created": report.created},
        )
    if site is not None:
        sent = onboarding_send(course=course, invited=invited, enrolled=told, site=site)
        report.mailed, report.mail_failed = sent.sent, sent.failed
    return report
