"""Signing in and out."""

# The second factor pages add their routes to the auth blueprint.
from . import second_factor_views  # noqa: F401
