"""Data generators, kept apart from the product code: the demo data `make run` adds for trying
the product (seed.py), and the large realistic data sets of the benchmarks and scale tests
(scale.py, which runs plan.py, people.py and bulk.py). `flask seed-demo` runs them. The
product code never imports this package at request time (the sign-in page reads only
DEMO_TOTP_SECRET, when its module is imported), and neither generator runs in production.

The scale generator's shared password is `intervention.demo.scale.PASSWORD`, not exported
here, where it would read as the demo's (DEMO_PASSWORD).

`seed` here is the function: it hides the module of the same name, so reach that module (to
patch its clock, say) with `importlib.import_module("intervention.demo.seed")`.
"""

from .scale import ScaleRefused, Summary, generate
from .seed import DEMO_PASSWORD, DEMO_TOTP_SECRET, DemoRefused, seed

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_TOTP_SECRET",
    "DemoRefused",
    "ScaleRefused",
    "Summary",
    "generate",
    "seed",
]
