"""Helpers for the security suite (tests/test_security_*.py): each test
reproduces one attack from the probe and records what happened to it in a
table printed at the end of the module and merged into
test-artifacts/security-table.md (one section per module and database)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import pytest

from tests.faults_helpers import ARTIFACTS, db_label, timed


@dataclass
class Attack:
    name: str
    finding: str
    outcome: str = "did not finish"
    seconds: float = 0.0


@dataclass
class SecurityTable:
    """Rows of (finding, attack, outcome). A test says what happened with
    `row.outcome = "refused: 403 ..."` once it has asserted it."""

    title: str
    rows: list[Attack] = field(default_factory=list)

    def attack(self, finding: str, name: str) -> contextlib.AbstractContextManager[Attack]:
        row = Attack(name, finding)
        self.rows.append(row)
        return timed(row, "NOT REFUSED / FAILED")

    def markdown(self) -> str:
        return _markdown(self.title, [asdict(r) for r in self.rows])

    def finish(self, config=None) -> None:
        """Print the table and merge its rows into test-artifacts/security-table.md.

        Rows are merged by (finding, attack), not replaced by title:
        pytest-django runs a module's transactional tests after all the
        others, so one module's table can finish twice in a run."""
        capture = config.pluginmanager.get_plugin("capturemanager") if config else None
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            sys.stdout.write("\n\n" + self.markdown() + "\n")
            sys.stdout.flush()
        ARTIFACTS.mkdir(exist_ok=True)
        store = ARTIFACTS / "security-table.json"
        try:
            sections = json.loads(store.read_text())
        except (OSError, ValueError):
            sections = {}
        rows = {(r["finding"], r["name"]): r for r in sections.get(self.title, [])}
        rows.update({(r.finding, r.name): asdict(r) for r in self.rows})
        sections[self.title] = list(rows.values())
        store.write_text(json.dumps(sections, indent=1))
        (ARTIFACTS / "security-table.md").write_text(
            "# Security suite: the probe's attacks\n\n"
            + "\n".join(_markdown(k, sections[k]) for k in sorted(sections))
        )


def _markdown(title: str, rows: list[dict]) -> str:
    lines = [f"### {title}", "", "| finding | attack | outcome | time |", "|---|---|---|---|"]
    for r in rows:
        outcome = r["outcome"].replace("|", "\\|").replace("\n", " ")
        attack = r["name"].replace("|", "\\|")
        lines.append(f"| {r['finding']} | {attack} | {outcome} | {r['seconds']:.1f} s |")
    return "\n".join(lines) + "\n"


def table_fixture(title: str):
    """A module-scoped `table` fixture for one security test module:

    table = table_fixture("Access: cross-app takeovers")

    def test_it_refuses_x(table, ...):
        with table.attack("1", "grant group-wide Owner from one's own app") as row:
            ...
            row.outcome = "refused: 403"
    """

    @pytest.fixture(scope="module")
    def table(request) -> Iterator[SecurityTable]:
        t = SecurityTable(f"{title} ({db_label()})")
        yield t
        t.finish(request.config)

    return table
