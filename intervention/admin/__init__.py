"""The program director's pages: views.py holds the blueprint and the overview; each noun's
pages add their routes to it from their own module."""

from . import (  # noqa: F401
    account_views,
    audit_views,
    certificate_views,
    cohort_views,
    court_views,
    enrollment_views,
    hold_views,
    provider_views,
)
