"""Mutation testing of the rule modules, each with the tests that guard it (`make mutation`).

One mutmut run over every rule module gives each mutant every test that reaches its function:
the audit log's `record()` is reached by some 700 tests (every action is audited), so one
surviving audit mutant costs minutes and the whole run most of two hours on two cores. Here
each group of rule modules runs on its own, in its own checkout under `mutants-runs/`, with the
test files that state its rules; mutmut still picks, within them, the tests that reach the
mutated function. Results stay in each checkout's `mutants/`: a rerun tests only what changed.

    python bench/mutation.py [--children 2] [GROUP ...]     # then bench/mutation_report.py
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "mutants-runs"

# Every test but the browser's and the slow, wide ones no rule depends on alone: access is
# checked on every page, so every page's tests guard it.
EVERY_TEST = [
    "tests",
    "--ignore=tests/browser",
    "--ignore=tests/test_scale.py",
    "--ignore=tests/test_admin_at_scale.py",
    "--ignore=tests/test_form_fuzz.py",
    "--ignore=tests/test_curriculum_properties.py",
    "--ignore=tests/test_sqlite_locking.py",
    "--deselect=tests/test_i18n.py::test_every_interface_string_has_its_spanish",
    # Reads the source's shape (function lengths, imports), which mutmut's rewriting changes.
    "--ignore=tests/test_layers.py",
]
# Each group: the modules it mutates, and the test files that state their rules.
GROUPS = {
    "access": (["intervention/access.py"], EVERY_TEST),
    "completion": (
        [
            "intervention/services/completion.py",
            "intervention/services/completion_text.py",
            "intervention/services/policy.py",
        ],
        [
            "test_services.py",
            "test_attendance.py",
            "test_notices.py",
            "test_document_contents.py",
            "test_documents.py",
            "test_clerk_portal.py",
            "test_rosters.py",
        ],
    ),
    "attendance": (
        ["intervention/services/attendance.py"],
        ["test_attendance.py", "test_rosters.py", "test_services.py", "test_notices.py"],
    ),
    "certificates": (
        ["intervention/services/certificates.py"],
        [
            "test_certificate_revocation.py",
            "test_case_actions.py",
            "test_verify.py",
            "test_signing.py",
            "test_document_contents.py",
            "test_identifiers.py",
            "test_audit_integrity.py",
        ],
    ),
    "reflections": (
        ["intervention/services/reflections.py"],
        ["test_reflection_writing.py", "test_review.py", "test_services.py"],
    ),
    "audit": (
        ["intervention/services/audit.py"],
        ["test_audit_integrity.py", "test_audit_log.py", "test_audit_privacy.py", "test_backup.py"],
    ),
}


def _checkout(group: str) -> Path:
    """A checkout of HEAD for this group (made once, then updated), with its catalog built."""
    path = RUNS / group
    if not path.exists():
        RUNS.mkdir(exist_ok=True)
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), "HEAD"], cwd=ROOT, check=True
        )
    else:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        # --force: this script's own edit of pyproject.toml (below) gives way to HEAD's.
        subprocess.run(
            ["git", "checkout", "--quiet", "--force", "--detach", head], cwd=path, check=True
        )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "compile",
            "-d",
            "intervention/translations",
            "-l",
            "es",
        ],
        cwd=path,
        check=True,
    )
    return path


def _configure(path: Path, modules: list[str], tests: list[str]) -> None:
    """The checkout's [tool.mutmut]: only this group's modules, only its test files."""
    pyproject = path / "pyproject.toml"
    text = pyproject.read_text()
    only = "only_mutate = [\n" + "".join(f'    "{m}",\n' for m in modules) + "]"
    text = re.sub(r"only_mutate = \[\n(?:    \"[^\"]+\",\n)+\]", only, text, count=1)
    args = tests if tests is EVERY_TEST else [f"tests/{t}" for t in tests]
    selection = (
        "pytest_add_cli_args_test_selection = [\n"
        + "".join(f'    "{arg}",\n' for arg in args)
        + "]"
    )
    text = re.sub(
        r"pytest_add_cli_args_test_selection = \[\n(?:.*\n)*?\]", selection, text, count=1
    )
    pyproject.write_text(text)


def run(group: str, children: int) -> float:
    modules, tests = GROUPS[group]
    path = _checkout(group)
    _configure(path, modules, tests)
    started = time.monotonic()
    mutmut = shutil.which("mutmut", path=str(Path(sys.executable).parent)) or "mutmut"
    subprocess.run([mutmut, "run", "--max-children", str(children)], cwd=path, check=False)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("groups", nargs="*", default=list(GROUPS))
    args = parser.parse_args()
    total = 0.0
    for group in args.groups:
        seconds = run(group, args.children)
        total += seconds
        print(f"mutation: {group} took {seconds / 60:.1f} min", flush=True)
    print(f"mutation: every group took {total / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
