"""The participant's pages: his course, his reflections, his attendance, his certificate."""

# The "my data" export adds its routes to the participant blueprint.
from . import export_views  # noqa: E402, F401
