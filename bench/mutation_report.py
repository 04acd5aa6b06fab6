"""Mutation score per rule module, from mutmut's results in mutants/ (`make mutation`).

Prints one row per module: mutants, killed (a test failed, or the run timed out: the change
was noticed), survived, equivalent (survivors docs/testing.md shows change nothing), no
tests, and the share killed of the mutants that are not equivalent; then the survivors by name,
marking those docs/testing.md lists as equivalent (changes that change nothing). Exits 1 when a
module is under the target share, so `make mutation` fails like a test run would.

    python bench/mutation_report.py [--target 0.95]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
RUNS = ROOT / "mutants-runs"
# Which group's run (bench/mutation.py) reports each module.
GROUPED = {
    "intervention.access": "access",
    "intervention.services.completion": "completion",
    "intervention.services.completion_text": "completion",
    "intervention.services.policy": "completion",
    "intervention.services.attendance": "attendance",
    "intervention.services.certificates": "certificates",
    "intervention.services.reflections": "reflections",
    "intervention.services.audit": "audit",
}
TESTING_DOC = ROOT / "docs" / "testing.md"

# mutmut's exit codes (mutmut.stats.status_by_exit_code): 1 and 3 a test failed; timeouts mean
# the mutant made a test hang, which a person would notice too.
KILLED = {1, 3, 24, -24, 36, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}


def equivalent_mutants() -> set[str]:
    """Mutant names docs/testing.md lists as equivalent: `name` at the start of a list item."""
    if not TESTING_DOC.exists():
        return set()
    text = TESTING_DOC.read_text()
    names = set()
    for line in re.findall(r"^- `([^`]+__mutmut_\d+)`(.*)$", text, re.M):
        first, rest = line
        names.add(first)
        # "`a__mutmut_35`, and `_36`": further numbers of the same function.
        stem = first.rsplit("_", 1)[0]
        names |= {stem + "_" + n for n in re.findall(r"`_(\d+)`", rest)}
    return names


def results() -> dict[str, dict[str, int | None]]:
    """exit code by mutant name, per module (dotted path), from mutmut's .meta files: those
    of bench/mutation.py's per-group checkouts, else those of a plain `mutmut run`."""
    found = {}
    roots = sorted(RUNS.glob("*/mutants")) or [MUTANTS]
    for root in roots:
        for meta in sorted(root.rglob("*.py.meta")):
            relative = meta.relative_to(root).with_suffix("").with_suffix("")
            data = json.loads(meta.read_text())
            module = ".".join(relative.parts)
            if module in GROUPED and root.parent.name != GROUPED[module]:
                continue  # a module is reported from the run of its own group
            found[module] = data.get("exit_code_by_key", {})
    return dict(sorted(found.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.95)
    args = parser.parse_args()
    by_module = results()
    if not by_module:
        print("No mutmut results in mutants/: run `make mutation` first.", file=sys.stderr)
        return 1
    equivalent = equivalent_mutants()
    failing = []
    survivors = []
    header = ("module", "mutants", "killed", "survived", "equiv.", "no tests", "killed %")
    print(f"{header[0]:42} " + " ".join(f"{h:>8}" for h in header[1:]))
    for module, codes in by_module.items():
        checked = {k: v for k, v in codes.items() if v is not None}
        killed = sum(1 for v in checked.values() if v in KILLED)
        survived = [k for k, v in checked.items() if v in SURVIVED]
        no_tests = sum(1 for v in checked.values() if v in NO_TESTS)
        total = len(codes)
        # Equivalent mutants (docs/testing.md) change nothing: no test can kill them.
        same = sum(1 for name in survived if name in equivalent)
        share = killed / (total - same) if total > same else 1.0
        unchecked = total - len(checked)
        note = f"  ({unchecked} not run yet)" if unchecked else ""
        print(
            f"{module:42} {total:8d} {killed:8d} {len(survived):8d} {same:8d} {no_tests:8d} "
            f"{share:8.1%}{note}"
        )
        survivors += [(name, name in equivalent) for name in survived]
        if share < args.target or unchecked:
            failing.append(module)
    if survivors:
        print("\nSurviving mutants (`mutmut show <name>` prints the change):")
        for name, is_equivalent in survivors:
            print(f"  {name}{'  (equivalent: docs/testing.md)' if is_equivalent else ''}")
    if failing:
        print(f"\nUnder {args.target:.0%} killed, or not fully run: {', '.join(failing)}")
        return 1
    print(f"\nEvery module has at least {args.target:.0%} of its mutants killed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
