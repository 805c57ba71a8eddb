"""Render a role's templates the way its tasks would, for tests of generated files.

Roles whose product cannot run here (vendor media, Windows) are tested up to the files they
generate: response files, unit files, configuration XML. These helpers load a role's defaults and
vars with Ansible's own loader and render one of its templates with Ansible's own templar, so the
filters, tests and lazy variable resolution are the ones a real run uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

init_plugin_loader()  # filters, tests and lookups from the installed collections too

ROLES = Path(__file__).resolve().parents[2] / "roles"

# What the template module adds to a template's variables, and the facts roles read most.
_TEMPLATE_VARS = {"ansible_managed": "Managed by cmectl: local edits are overwritten"}
_FACTS = {
    "os_family": "Debian",
    "distribution": "Debian",
    "distribution_major_version": "12",
    "distribution_release": "bookworm",
    "memtotal_mb": 4096,
    "processor_vcpus": 2,
    "hostname": "app01",
    "fqdn": "app01.example.internal",
    "default_ipv4": {"address": "192.0.2.10"},
    "system": "Linux",
}


def role_vars(role: str, *, family: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The variables a role's tasks see: defaults, vars/main.yml, vars/<family>.yml, overrides.

    ``ansible_facts`` gets plausible values for a Debian 12 host with 4 GiB of memory unless the
    caller passes its own; ``family`` picks the vars file (defaults to the facts' os_family).
    """
    loader = DataLoader()
    base = ROLES / role
    variables: dict[str, Any] = {}
    facts = dict(_FACTS)
    facts.update(overrides.pop("ansible_facts", {}))
    family = family or facts["os_family"]
    for path in (base / "defaults/main.yml", base / "vars/main.yml", base / f"vars/{family}.yml"):
        if path.is_file():
            variables.update(loader.load_from_file(str(path), trusted_as_template=True) or {})
    variables.update(_TEMPLATE_VARS)
    variables["ansible_facts"] = facts
    variables["inventory_hostname"] = overrides.pop("inventory_hostname", facts["hostname"])
    variables.update(overrides)
    return variables


def trusted(obj: Any) -> Any:
    """``obj`` with every string trusted as a template, as a real run trusts a role's YAML
    (task vars, values a test hands in that refer to other variables)."""
    if isinstance(obj, str):
        return trust_as_template(obj)
    if isinstance(obj, dict):
        return {key: trusted(item) for key, item in obj.items()}
    if isinstance(obj, list):
        return [trusted(item) for item in obj]
    return obj


def template_file(templar: Templar, role: str, template: str) -> str:
    """``roles/<role>/templates/<template>`` rendered with ``templar``; as the template module
    does, a file's backslashes are Jinja's to read, not escaped."""
    path = ROLES / role / "templates" / template
    return templar.template(trust_as_template(path.read_text(encoding="utf-8")),
                            escape_backslashes=False)


def expression(templar: Templar, text: str) -> Any:
    """One Jinja expression evaluated with ``templar``."""
    return templar.template(trust_as_template("{{ " + text + " }}"))


def render(role: str, template: str, *, family: str | None = None, **overrides: Any) -> str:
    """Render ``roles/<role>/templates/<template>`` with :func:`role_vars`."""
    templar = Templar(loader=DataLoader(), variables=role_vars(role, family=family, **overrides))
    return template_file(templar, role, template)


def value(role: str, expression_: str, *, family: str | None = None, **overrides: Any) -> Any:
    """Evaluate one Jinja expression (e.g. a derived ``__role_*`` variable) in the role's scope."""
    templar = Templar(loader=DataLoader(), variables=role_vars(role, family=family, **overrides))
    return expression(templar, expression_)
