"""`manage.py lti_platform_add --issuer ISS --client-id ID --deployment-id DID --auth-url URL
--token-url URL --jwks-url URL [--course SLUG] [--frame-origin URL ...]`: register an LMS (LTI 1.3
platform) and one deployment; run again to add deployments or change URLs (docs/LTI.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from competitions.errors import ServiceError
from competitions.lti.platforms import platform_add


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--issuer", required=True, help="the platform's iss")
        parser.add_argument("--client-id", required=True, help="the client id the LMS gave Podium")
        parser.add_argument("--deployment-id", required=True)
        parser.add_argument("--auth-url", required=True, help="OIDC authorization endpoint")
        parser.add_argument("--token-url", required=True, help="OAuth2 access token endpoint")
        parser.add_argument("--jwks-url", required=True, help="the platform's public keyset")
        parser.add_argument("--course", help="slug: every context of this deployment goes there")
        parser.add_argument(
            "--frame-origin",
            action="append",
            default=[],
            help="an origin that shows Podium in an iframe, when not the issuer's (repeatable)",
        )

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            deployment = platform_add(
                issuer=o["issuer"],
                client_id=o["client_id"],
                deployment_id=o["deployment_id"],
                auth_url=o["auth_url"],
                token_url=o["token_url"],
                jwks_url=o["jwks_url"],
                course_slug=o["course"],
                frame_origins=o["frame_origin"],
            )
        except ServiceError as e:
            raise CommandError(e.message, returncode=2) from e
        target = deployment.course.slug if deployment.course else "a course per LMS context"
        self.stdout.write(
            f"platform {deployment.platform.issuer} (client {deployment.platform.client_id}), "
            f"deployment {deployment.deployment_id} -> {target}"
        )
