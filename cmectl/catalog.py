"""The catalogue of packages (``catalogue.yml``) and what each role declares about itself."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from cmectl.config import project_root
from cmectl.errors import UnknownPackageError, UsageError

VERBS = ("install", "uninstall", "verify")
STATUSES = ("available", "planned")


@dataclass(frozen=True)
class Package:
    id: str
    name: str
    role: str
    group: str
    kind: str
    seed: str
    status: str
    platforms: dict[str, list[str]]
    verbs: tuple[str, ...]
    ports: tuple[int, ...]
    tested: dict[str, Any] = field(default_factory=dict)
    # Packages that go first when asked for in the same run (last, when uninstalling).
    after: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        return self.status == "available"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "group": self.group,
            "kind": self.kind,
            "seed": self.seed,
            "status": self.status,
            "platforms": self.platforms,
            "verbs": list(self.verbs),
            "ports": list(self.ports),
            "tested": self.tested,
            "after": list(self.after),
        }


@dataclass(frozen=True)
class Variable:
    """One public role variable, as declared in ``meta/argument_specs.yml``."""

    name: str
    type: str
    description: str
    default: Any = None
    required: bool = False
    choices: tuple[Any, ...] = ()
    secret: bool = False
    elements: str | None = None


class Catalogue:
    def __init__(self, packages: list[Package], root: Path):
        self.packages = packages
        self.root = root
        self._by_id = {p.id: p for p in packages}

    def __iter__(self):
        return iter(self.packages)

    def get(self, package_id: str) -> Package:
        try:
            return self._by_id[package_id]
        except KeyError:
            close = difflib.get_close_matches(package_id, self._by_id, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UnknownPackageError(
                f"unknown package id {package_id!r}",
                f"{hint}see 'cmectl catalog list' for the ids",
            ) from None

    def resolve(self, package_ids: list[str], verb: str) -> list[Package]:
        """The packages for a command, checked: known, built, supporting ``verb``."""
        seen: list[Package] = []
        for pid in package_ids:
            pkg = self.get(pid)
            if not pkg.available:
                raise UnknownPackageError(
                    f"package {pid!r} is catalogued but its role is not built yet "
                    "(status: planned)",
                    "see 'cmectl catalog list' for the packages that can be installed today",
                )
            if verb not in pkg.verbs:
                raise UsageError(
                    f"package {pid!r} does not support {verb}",
                    f"it supports: {', '.join(pkg.verbs)}",
                )
            if pkg not in seen:
                seen.append(pkg)
        ordered = _dependency_order(seen)
        return ordered[::-1] if verb == "uninstall" else ordered

    def role_dir(self, pkg: Package) -> Path:
        return self.root / "roles" / pkg.role

    def variables(self, pkg: Package, entry_point: str = "main") -> list[Variable]:
        return role_variables(self.role_dir(pkg), entry_point)


def _dependency_order(packages: list[Package]) -> list[Package]:
    """``packages`` with each one after those it names in ``after`` (among them), otherwise
    in the order given."""
    by_id = {p.id: p for p in packages}
    done: list[Package] = []
    visiting: set[str] = set()

    def place(pkg: Package) -> None:
        if pkg in done or pkg.id in visiting:
            return  # placed already, or a cycle in the catalogue: keep the given order
        visiting.add(pkg.id)
        for first in pkg.after:
            if first in by_id:
                place(by_id[first])
        visiting.discard(pkg.id)
        done.append(pkg)

    for pkg in packages:
        place(pkg)
    return done


def _package(raw: dict[str, Any], source: Path) -> Package:
    missing = [k for k in ("id", "name", "role", "status") if k not in raw]
    if missing:
        raise UsageError(f"{source}: an entry lacks {', '.join(missing)}", "complete that entry")
    if raw["status"] not in STATUSES:
        raise UsageError(f"{source}: {raw['id']} has status {raw['status']!r}",
                         f"use one of {', '.join(STATUSES)}")
    return Package(
        id=raw["id"],
        name=raw["name"],
        role=raw["role"],
        group=raw.get("group", ""),
        kind=raw.get("kind", "open-source"),
        seed=raw.get("seed", ""),
        status=raw["status"],
        platforms=dict(raw.get("platforms") or {}),
        verbs=tuple(raw.get("verbs") or VERBS),
        ports=tuple(raw.get("ports") or ()),
        tested=dict(raw.get("tested") or {}),
        after=tuple(raw.get("after") or ()),
    )


@cache
def _load(root: Path) -> Catalogue:
    source = root / "catalogue.yml"
    data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    packages = [_package(raw, source) for raw in data.get("packages", [])]
    ids = [p.id for p in packages]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise UsageError(f"{source}: duplicate ids {', '.join(dupes)}", "make each id unique")
    for pkg in packages:
        unknown = [a for a in pkg.after if a not in ids]
        if unknown:
            raise UsageError(f"{source}: {pkg.id} comes after unknown {', '.join(unknown)}",
                             "name catalogued ids in 'after'")
    return Catalogue(packages, root)


def load_catalogue(root: Path | None = None) -> Catalogue:
    return _load(root or project_root())


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def role_variables(role_dir: Path, entry_point: str = "main") -> list[Variable]:
    """Public variables of a role entry point, with defaults from ``defaults/main.yml``."""
    specs = _read_yaml(role_dir / "meta" / "argument_specs.yml").get("argument_specs", {})
    options = (specs.get(entry_point) or {}).get("options") or {}
    defaults = _read_yaml(role_dir / "defaults" / "main.yml")
    out = []
    for name, opt in options.items():
        desc = opt.get("description", "")
        if isinstance(desc, list):
            desc = " ".join(desc)
        out.append(
            Variable(
                name=name,
                type=opt.get("type", "str"),
                description=desc,
                default=defaults.get(name, opt.get("default")),
                required=bool(opt.get("required", False)),
                choices=tuple(opt.get("choices") or ()),
                secret=bool(opt.get("no_log", False)),
                elements=opt.get("elements"),
            )
        )
    return out


def argument_spec(role_dir: Path, entry_point: str = "main") -> dict[str, Any]:
    """The raw option spec of a role entry point (for validation)."""
    specs = _read_yaml(role_dir / "meta" / "argument_specs.yml").get("argument_specs", {})
    return (specs.get(entry_point) or {}).get("options") or {}
