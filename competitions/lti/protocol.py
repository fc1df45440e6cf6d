"""pylti1p3's message launch, set up once for Podium: the tool configuration from the database,
launch state in the cache (with its own cookie, SameSite=None on HTTPS, so it survives the
platform's cross-site POST), the platform's JWKS fetched through the bounded session and cached.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from pylti1p3.contrib.django import DjangoMessageLaunch
from pylti1p3.contrib.django.launch_data_storage.cache import DjangoCacheDataStorage
from pylti1p3.exception import LtiException

from competitions.lti.http import BoundedSession
from competitions.lti.toolconf import DbToolConf


def launch_storage() -> DjangoCacheDataStorage:
    return DjangoCacheDataStorage(cache_name="default")


def _message(request: HttpRequest) -> DjangoMessageLaunch:
    storage = launch_storage()
    message = DjangoMessageLaunch(
        request, DbToolConf(), launch_data_storage=storage, requests_session=BoundedSession()
    )
    message.set_public_key_caching(storage, cache_lifetime=settings.PODIUM_LTI_JWKS_CACHE_S)
    return message


def launch_verify(request: HttpRequest) -> DjangoMessageLaunch:
    """A launch checked from state to signature; LtiException says what failed."""
    message = _message(request)
    message.set_jwt_verify_options(
        {"verify_aud": False, "require": ["exp", "iat", "nonce"]}  # type: ignore[dict-item]
    )
    message.validate()
    return message


def launch_restore(request: HttpRequest, launch_id: str) -> DjangoMessageLaunch:
    """A launch verified earlier in this browser (deep linking answers it after a pick)."""
    storage = launch_storage()
    message: DjangoMessageLaunch = DjangoMessageLaunch.from_cache(  # type: ignore[assignment]
        launch_id,
        request,
        DbToolConf(),
        launch_data_storage=storage,
        requests_session=BoundedSession(),
    )
    if not message.get_launch_data():
        raise LtiException("launch not found or expired")
    return message
