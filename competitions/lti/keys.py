"""The tool's RSA keys: generated and rotated by `manage.py lti_keys_rotate`, stored in the
database. The newest key signs; retired keys stay published for PODIUM_LTI_KEY_OVERLAP_DAYS so a
platform that cached the old JWKS can still check what was signed just before a rotation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pylti1p3.registration import Registration

from competitions.lti.models import LtiKey


def _public_jwk(public_pem: str) -> dict[str, Any]:
    # pylti1p3 derives the kid it signs with from the public key (its thumbprint): the JWKS
    # must publish the same one, so both come from Registration.get_jwk.
    return dict(Registration.get_jwk(public_pem))


def key_rotate() -> LtiKey:
    """A new 2048-bit key pair becomes the signing key; the previous ones are retired now."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with transaction.atomic():
        LtiKey.objects.filter(retired_at__isnull=True).update(retired_at=timezone.now())
        return LtiKey.objects.create(
            kid=_public_jwk(public_pem)["kid"], private_pem=private_pem, public_pem=public_pem
        )


def key_current() -> LtiKey:
    """The signing key; the first use creates one, so a fresh install works without the command."""
    key = LtiKey.objects.filter(retired_at__isnull=True).first()
    return key if key is not None else key_rotate()


def keys_jwks() -> dict[str, list[dict[str, Any]]]:
    """The public half of the signing key and of keys retired within the overlap."""
    key_current()
    since = timezone.now() - dt.timedelta(days=settings.PODIUM_LTI_KEY_OVERLAP_DAYS)
    keys = LtiKey.objects.filter(retired_at__isnull=True) | LtiKey.objects.filter(
        retired_at__gte=since
    )
    return {"keys": [_public_jwk(k.public_pem) for k in keys.order_by("-created_at", "-pk")]}
