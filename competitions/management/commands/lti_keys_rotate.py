"""`manage.py lti_keys_rotate`: a new RSA key pair signs from now on (deep-linking answers, token
requests); the previous key stays in /lti/jwks/ for PODIUM_LTI_KEY_OVERLAP_DAYS. Private keys
live in the database only."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from competitions.lti.keys import key_rotate


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        key = key_rotate()
        self.stdout.write(f"new signing key {key.kid}; public keys at /lti/jwks/")
