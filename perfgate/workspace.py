"""Where a project's perfgate files live: one place that knows every path under .perfgate/."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # pydantic's models cost a read command (history, sql) a fifth of a second
    from perfgate.contract import Contract

DIRNAME = ".perfgate"


@dataclass(frozen=True)
class Project:
    """The user's repository: its root, its contracts and its store."""

    root: Path

    @property
    def dir(self) -> Path:
        return self.root / DIRNAME

    @property
    def store_path(self) -> Path:
        return self.dir / "perfgate.duckdb"

    @property
    def ledger_dir(self) -> Path:
        """The process groups of running commands (proctree's ledger; sessions.Recorder
        finds it beside the store)."""
        return self.dir / "running"

    @property
    def doit_dep_file(self) -> Path:
        return self.dir / "doit.sqlite3"

    @property
    def contracts_dir(self) -> Path:
        return self.root / "contracts"

    def contract_files(self) -> list[Path]:
        return sorted(self.contracts_dir.glob("*.yaml")) if self.contracts_dir.is_dir() else []

    def store(self):
        from perfgate.store import Store

        return Store(self.store_path)

    def workspace(self, name_or_path: str) -> Workspace:
        from perfgate import contract as contract_mod

        path = contract_mod.resolve(name_or_path, self.root)
        return Workspace(self, path)


@dataclass(frozen=True)
class Workspace:
    """One contract's files: the contract itself and everything under .perfgate/<name>/."""

    project: Project
    contract_path: Path

    @cached_property
    def contract(self) -> Contract:
        from perfgate import contract as contract_mod

        return contract_mod.load(self.contract_path)

    @property
    def name(self) -> str:
        return self.contract.name

    @property
    def handle(self) -> str:
        """How to name this contract on perfgate's command line: its name when it lives in
        contracts/, else its path."""
        if self.contract_path.parent == self.project.contracts_dir and \
                self.contract_path.stem == self.name:
            return self.name
        return self.display(self.contract_path)

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def dir(self) -> Path:
        return self.project.dir / self.name

    def artifact(self, stage: str) -> Path:
        return self.dir / f"{stage}.md"

    @property
    def state_path(self) -> Path:
        return self.dir / "state.yaml"

    @property
    def base_tree(self) -> Path:
        return self.dir / "base"

    @property
    def work_tree(self) -> Path:
        return self.dir / "work"

    @property
    def branch(self) -> str:
        return f"perfgate/{self.name}"

    def display(self, path: Path) -> str:
        """A path relative to the project root, for messages and artifacts."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)
