"""pylti1p3's message launch, set up once for Podium: the tool configuration from the database,
launch state in the cache (with its own cookie, SameSite=None on HTTPS, so it survives the
platform's cross-site POST), the platform's JWKS fetched through the bounded session and cached.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
import requests
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from pylti1p3.contrib.django import DjangoMessageLaunch
from pylti1p3.contrib.django.launch_data_storage.cache import DjangoCacheDataStorage
from pylti1p3.exception import LtiException

from competitions.lti.http import BoundedSession
from competitions.lti.toolconf import DbToolConf


def launch_storage() -> DjangoCacheDataStorage:
    return DjangoCacheDataStorage(cache_name="default")


class PodiumMessageLaunch(DjangoMessageLaunch):
    """pylti1p3's launch with three changes: the platform's JWKS is cached in Django's cache
    and fetched again (at most once a minute) when a token names a key it lacks, as after the
    platform rotated its keys; `exp` and `iat` get a small leeway for clock skew; a token issued
    more than PODIUM_LTI_MAX_TOKEN_AGE_S ago is refused whatever its `exp`."""

    _refetch = False

    def fetch_public_key(self, key_set_url: str) -> Any:
        key = "podium-lti-jwks:" + hashlib.sha256(key_set_url.encode()).hexdigest()
        if not self._refetch:
            cached = cache.get(key)
            if cached:
                return cached
        try:
            keys = self._requests_session.get(key_set_url).json()
        except (requests.RequestException, ValueError) as e:
            raise LtiException(f"the platform's keys ({key_set_url}) could not be read: {e}") from e
        if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
            raise LtiException(f"the platform's keys ({key_set_url}) are not a JWKS")
        cache.set(key, keys, settings.PODIUM_LTI_JWKS_CACHE_S)
        return keys

    def get_public_key(self) -> tuple[str, str]:
        try:
            return super().get_public_key()
        except LtiException as e:
            url = self._registration.get_key_set_url() if self._registration else None
            if "Unable to find public key" not in str(e) or not url:
                raise
            if not cache.add("podium-lti-jwks-refetch:" + url, 1, 60):
                raise
            assert self._registration is not None
            self._registration.set_key_set(None)
            self._refetch = True
            return super().get_public_key()

    def validate_jwt_signature(self) -> PodiumMessageLaunch:
        public_key, alg = self.get_public_key()
        try:
            body = jwt.decode(
                self._get_id_token(),
                public_key,
                algorithms=[alg],
                options={"verify_aud": False, "require": ["exp", "iat", "nonce"]},
                leeway=settings.PODIUM_LTI_CLOCK_SKEW_S,
            )
        except jwt.InvalidTokenError as e:
            raise LtiException(f"Can't decode id_token: {e}") from e
        if int(body["iat"]) < time.time() - settings.PODIUM_LTI_MAX_TOKEN_AGE_S:
            raise LtiException("the id_token was issued too long ago (iat)")
        return self


def _message(request: HttpRequest) -> PodiumMessageLaunch:
    return PodiumMessageLaunch(
        request,
        DbToolConf(),
        launch_data_storage=launch_storage(),
        requests_session=BoundedSession(),
    )


def launch_verify(request: HttpRequest) -> PodiumMessageLaunch:
    """A launch checked from state to signature; LtiException says what failed."""
    message = _message(request)
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
