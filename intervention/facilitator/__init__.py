"""Facilitator pages: cohorts, attendance, the review queue, certificates. Admins see all."""
