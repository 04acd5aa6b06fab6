"""Case actions and court documents for facilitators and the program director."""

from . import certificate_views  # noqa: E402,F401  (adds its routes to the blueprint)
