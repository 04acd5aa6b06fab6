"""The program director's pages."""

# The audit log, staff account and legal hold pages add their routes to the admin blueprint.
from . import account_views, audit_views, hold_views  # noqa: F401
