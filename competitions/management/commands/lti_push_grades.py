"""`manage.py lti_push_grades SLUG`: post every student's grade of the competition to its LMS
line items now (what a close does by itself). Grades already there are not sent again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from competitions.lti.grades import lti_grades_push
from competitions.models import Competition


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the competition")

    def handle(self, *args: Any, slug: str, **options: Any) -> None:
        competition = Competition.objects.filter(slug=slug).first()
        if competition is None:
            raise CommandError(f"no competition has the slug {slug!r}", returncode=2)
        r = lti_grades_push(competition=competition)
        if r.no_policy:
            raise CommandError(
                f"{slug} has no grade policy: set one on the competition's edit page first",
                returncode=2,
            )
        self.stdout.write(
            f"{slug}: {r.posted} posted, {r.unchanged} unchanged, {r.failed} failed, "
            f"{r.no_account} students never launched from the LMS"
        )
        for line in r.errors:
            self.stderr.write(line)
        if r.failed:
            raise CommandError(f"{r.failed} grades were not taken; run again later", returncode=1)
