"""`manage.py rebuild_standings [SLUG ...]`: recompute the leaderboard's standings table from the
submissions (after edits made outside the services, e.g. in a database shell)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from competitions.models import Competition
from competitions.services.standings import standings_rebuild


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", help="competitions (default: all)")

    def handle(self, *args: Any, slugs: list[str], **options: Any) -> None:
        competitions = Competition.objects.all()
        if slugs:
            competitions = competitions.filter(slug__in=slugs)
        for competition in competitions:
            n = standings_rebuild(competition=competition)
            self.stdout.write(f"{competition.slug}: {n} entrants")
