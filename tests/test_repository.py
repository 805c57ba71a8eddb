"""The repository keeps its promises: every catalogued package that is available has its role,
argument_specs, README and Molecule scenario; every role is catalogued; docs match."""

from __future__ import annotations

import re

import pytest
import yaml

from cmectl.catalog import load_catalogue
from tests.conftest import ROOT

CATALOGUE = load_catalogue(ROOT)
AVAILABLE = [p for p in CATALOGUE if p.available]
SHARED_CATALOGUE = ROOT.parent / "shared" / "catalogue.md"


def load(path):
    return yaml.safe_load(path.read_text()) or {}


@pytest.mark.parametrize("pkg", AVAILABLE, ids=lambda p: p.id)
def test_available_package_has_everything(pkg):
    role = ROOT / "roles" / pkg.role
    for part in ("tasks/main.yml", "defaults/main.yml", "meta/main.yml",
                 "meta/argument_specs.yml", "README.md"):
        assert (role / part).is_file(), f"{pkg.id}: roles/{pkg.role}/{part} is missing"
    via = pkg.tested.get("molecule_via")
    if via:  # a thin role over a shared one, whose code path another role's scenario runs
        assert (ROOT / "molecule" / via / "molecule.yml").is_file()
        shared = re.findall(r"name: (cmectl_\w+)", (role / "tasks/main.yml").read_text())
        assert shared and set(shared) <= set(re.findall(
            r"name: (cmectl_\w+)", (ROOT / "roles" / via / "tasks/main.yml").read_text()))
    elif "Debian" in pkg.platforms:
        assert (ROOT / "molecule" / pkg.role / "molecule.yml").is_file()
    else:  # Windows or RHEL only: nothing here converges it; its generated files are tested
        assert (ROOT / "tests" / "roles" / f"test_{pkg.role}.py").is_file()
    assert set(pkg.verbs) <= {"install", "uninstall", "verify"}
    if "verify" in pkg.verbs:
        assert (role / "tasks/verify.yml").is_file()


@pytest.mark.parametrize("pkg", AVAILABLE, ids=lambda p: p.id)
def test_defaults_and_argument_specs_agree(pkg):
    role = ROOT / "roles" / pkg.role
    defaults = set(load(role / "defaults/main.yml"))
    specs = load(role / "meta/argument_specs.yml")["argument_specs"]
    # cmectl_* variables are set by cmectl itself (e.g. the request id a role writes into
    # its local fact); roles may declare them, with no default of their own.
    declared = {n for n in specs["main"]["options"] if not n.startswith("cmectl_")}
    assert defaults - declared == set(), "defaults not declared in argument_specs"
    assert {d for d in declared - defaults if not specs["main"]["options"][d].get("required")} \
        == set(), "declared but no default"
    for name in declared:
        assert name.startswith(f"{pkg.role}_"), f"{name} lacks the {pkg.role}_ prefix"
        assert specs["main"]["options"][name].get("description"), f"{name} has no description"
    readme = (role / "README.md").read_text()
    undocumented = [name for name in declared if name not in readme]
    assert undocumented == [], "variables missing from the role README"


@pytest.mark.parametrize("pkg", AVAILABLE, ids=lambda p: p.id)
def test_role_platforms_match_the_catalogue(pkg):
    meta = load(ROOT / "roles" / pkg.role / "meta/main.yml")
    names = {"RedHat": "EL"}
    for family, releases in pkg.platforms.items():
        platform = next((p for p in meta["galaxy_info"]["platforms"]
                         if p["name"] == names.get(family, family)), None)
        assert platform, f"meta/main.yml lacks {family}"
        assert {str(v) for v in platform["versions"]} >= {str(r) for r in releases}


def test_every_role_is_catalogued():
    """Except cmectl_* roles: building blocks the catalogued roles share, never run alone."""
    roles = {p.role for p in CATALOGUE}
    for path in (ROOT / "roles").iterdir():
        if path.is_dir() and not path.name.startswith("cmectl_"):
            assert path.name in roles, f"roles/{path.name} is not in catalogue.yml"


@pytest.mark.skipif(not SHARED_CATALOGUE.is_file(), reason="shared/catalogue.md not beside")
def test_every_package_of_the_service_spec_is_catalogued():
    text = SHARED_CATALOGUE.read_text()
    ids = set(re.findall(r"^\| ([a-z][a-z-]+) \|", text, re.M)) - {"id"}
    assert len(ids) >= 30
    assert ids - {p.id for p in CATALOGUE} == set()


def test_readme_catalogue_table_matches():
    readme = (ROOT / "README.md").read_text()
    for pkg in CATALOGUE:
        row = re.search(rf"^\| `{re.escape(pkg.id)}` \|.*$", readme, re.M)
        assert row, f"{pkg.id} missing from the README catalogue table"
        assert f"| {pkg.status} |" in row.group(0), f"{pkg.id}: README says another status"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```\n(scripts/bootstrap[^\n]*)\n```", readme)
    assert len(blocks) == 2, "the README holds exactly two set-up commands"
    assert blocks[1] in (ROOT / ".ci/run").read_text()
