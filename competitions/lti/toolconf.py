"""pylti1p3's tool configuration, read from Podium's tables (LtiPlatform, LtiDeployment, LtiKey).

Every issuer may have many client ids (one registration per LMS instance and tool), so pylti1p3
always looks a registration up by (issuer, client id)."""

from __future__ import annotations

from typing import Any

from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract

from competitions.lti.keys import key_current
from competitions.lti.models import LtiDeployment, LtiPlatform


def registration_for(platform: LtiPlatform) -> Registration:
    key = key_current()
    return (
        Registration()
        .set_issuer(platform.issuer)
        .set_client_id(platform.client_id)
        .set_auth_login_url(platform.auth_url)
        .set_auth_token_url(platform.token_url)
        .set_key_set_url(platform.jwks_url)
        .set_tool_private_key(key.private_pem)
        .set_tool_public_key(key.public_pem)
    )


class DbToolConf(ToolConfAbstract[Any]):
    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        raise NotImplementedError("registrations are found by issuer and client id")

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        raise NotImplementedError("deployments are found by issuer and client id")

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Registration:
        platform = LtiPlatform.objects.filter(issuer=iss, client_id=client_id).first()
        return registration_for(platform) if platform is not None else None  # type: ignore[return-value]

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        known = LtiDeployment.objects.filter(
            platform__issuer=iss, platform__client_id=client_id, deployment_id=deployment_id
        ).exists()
        return Deployment().set_deployment_id(deployment_id) if known else None
