"""Per-user API tokens: shown once, stored as a SHA-256 hash, at most
PODIUM_MAX_TOKENS_PER_USER per user (tokens don't expire: revoking one frees a place)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from competitions.errors import Refused
from competitions.models import ApiToken
from competitions.services.locks import lock_user_tokens
from competitions.text import text_checked


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(*, user: User, name: str = "token") -> tuple[ApiToken, str]:
    """A new token for `user`; `too_many_tokens` (409) when they already hold the maximum, and
    `bad_name` for a blank name (the name is how its owner tells tokens apart to revoke one)."""
    text_checked(name=name)
    name = name.strip()
    if not name:
        raise Refused("bad_name", "Give the token a name (e.g. the machine it is for).")
    limit = settings.PODIUM_MAX_TOKENS_PER_USER
    with transaction.atomic():
        lock_user_tokens(user=user)  # two concurrent creations cannot both pass the count
        if ApiToken.objects.filter(user=user).count() >= limit:
            raise Refused(
                "too_many_tokens",
                f"You already have {limit} API tokens, the most allowed: revoke one you no "
                "longer use (web page 'API tokens') before creating another.",
            )
        key = "pod_" + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(
            user=user, name=name[:80], prefix=key[:10], key_hash=_hash(key)
        )
    return token, key


def token_revoke(*, user: User, token_id: int) -> bool:
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return bool(deleted)


def token_authenticate(*, key: str) -> User | None:
    token = ApiToken.objects.select_related("user").filter(key_hash=_hash(key)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
