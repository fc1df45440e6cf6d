"""Production settings: `DJANGO_SETTINGS_MODULE=config.production`. DEBUG is forced off, so
SECRET_KEY and ALLOWED_HOSTS must come from the environment (start-up fails without them)."""

import os

os.environ["DEBUG"] = "0"

from config.settings import *  # noqa: E402,F403
from config.settings import ALLOWED_HOSTS  # noqa: E402

if not ALLOWED_HOSTS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("ALLOWED_HOSTS must list the site's host names in production")
