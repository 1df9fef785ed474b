"""Local development: DEBUG on unless the environment says otherwise."""

from crm.env import env_bool

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", True)
