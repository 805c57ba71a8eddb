"""Extra variables: parsed from the command line, checked against the roles' argument_specs
on the controller (before any host is touched), and redacted before they are recorded."""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cmectl.catalog import Catalogue, Package, argument_spec
from cmectl.errors import VariableError

REDACTED = "********"
# Variables no role declares are judged by name: these look like secrets.
SECRET_NAME = re.compile(r"(pass(word|wd)?|secret|token|private_key|_key$|_pfx|licen[cs]e_key)",
                         re.I)
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class CheckedVars:
    values: dict[str, Any] = field(default_factory=dict)
    secret_names: set[str] = field(default_factory=set)

    def redacted(self) -> dict[str, Any]:
        return {k: (REDACTED if k in self.secret_names else v) for k, v in self.values.items()}


def parse_extra_vars(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` (value kept as text; argument_specs convert it) or ``@FILE`` (YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        if item.startswith("@"):
            path = Path(item[1:]).expanduser()
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise VariableError(f"cannot read variables file {path}: {exc.strerror}",
                                    "check the path after -e @") from None
            except yaml.YAMLError as exc:
                raise VariableError(f"variables file {path} is not valid YAML: "
                                    f"{str(exc).splitlines()[0]}", "fix its syntax") from None
            if data is None:
                continue
            if not isinstance(data, dict):
                raise VariableError(f"variables file {path} is not a mapping of names to values",
                                    "write it as 'name: value' lines")
            out.update(data)
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not NAME.match(key):
            raise VariableError(f"-e {item!r} is not KEY=VALUE",
                                "write -e name=value, or -e @vars.yml for a file of variables")
        out[key] = value
    for key in out:
        if not isinstance(key, str) or not NAME.match(key):
            raise VariableError(f"variable name {key!r} is not valid",
                                "use letters, digits and underscores")
    return out


def check_vars(catalogue: Catalogue, packages: list[Package], raw: dict[str, Any],
               entry_point: str = "main") -> CheckedVars:
    """Validate ``raw`` against the argument_specs of every package's role."""
    # Imported here: ansible is heavy and only commands that run roles need it.
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    checked = CheckedVars(values=dict(raw))
    claimed: set[str] = set()
    problems: list[str] = []
    for pkg in packages:
        # A variable valid for the role is valid for each of its entry points: an engineer
        # passes the same -e to verify as to install.
        spec = {**argument_spec(catalogue.role_dir(pkg), "main"),
                **argument_spec(catalogue.role_dir(pkg), entry_point)}
        checked.secret_names |= {k for k, v in spec.items() if v.get("no_log")}
        prefix = f"{pkg.role}_"
        mine = {k: v for k, v in raw.items() if k in spec}
        claimed |= set(mine)
        for key in raw:
            if key.startswith(prefix) and key not in spec:
                close = difflib.get_close_matches(key, spec, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                problems.append(f"{key} is not a variable of role {pkg.role}{hint}")
        if not mine:
            continue
        sub = {k: _relaxed(spec[k]) for k in mine}
        result = ArgumentSpecValidator(sub).validate(copy.deepcopy(mine))
        for err in result.errors:
            secrets = {k: v for k, v in mine.items()
                       if spec[k].get("no_log") or SECRET_NAME.search(k)}
            problems.append(f"{_describe(err, secrets)} (role {pkg.role})")
        for key in mine:
            if key in result.validated_parameters:
                checked.values[key] = _as_given(result.validated_parameters[key], mine[key])
    checked.secret_names |= {k for k in raw if k not in claimed and SECRET_NAME.search(k)}
    if problems:
        names = ", ".join(p.role for p in packages)
        raise VariableError(
            "; ".join(problems),
            f"see the variables with 'cmectl catalog show {packages[0].id}'"
            if len(packages) == 1 else f"see the variables of {names} with 'cmectl catalog show'",
        )
    return checked


def _as_given(validated: Any, given: Any) -> Any:
    """The validated value (strings turned into the declared types) in the shape it was given:
    the validator fills every sub-option left out with None (or its spec default), which a role
    would then see as set. A role's ``| default(...)`` on a sub-option must still apply."""
    if isinstance(validated, dict) and isinstance(given, dict):
        return {k: _as_given(v, given[k]) for k, v in validated.items() if k in given}
    if (isinstance(validated, list) and isinstance(given, list)
            and len(validated) == len(given)):
        return [_as_given(v, g) for v, g in zip(validated, given, strict=True)]
    return validated


def _relaxed(option: dict[str, Any]) -> dict[str, Any]:
    """An option spec for checking a supplied value: its type and choices, not defaults."""
    opt = {k: v for k, v in option.items() if k in ("type", "choices", "elements", "options",
                                                     "no_log", "aliases")}
    if opt.get("options"):
        opt["options"] = {k: _keep_required(v) for k, v in opt["options"].items()}
    return opt


def _keep_required(option: dict[str, Any]) -> dict[str, Any]:
    opt = {k: v for k, v in option.items() if k in ("type", "choices", "elements", "options",
                                                     "no_log", "required", "default")}
    if opt.get("options"):
        opt["options"] = {k: _keep_required(v) for k, v in opt["options"].items()}
    return opt


def _describe(err: Exception, secrets: dict[str, Any]) -> str:
    text = str(getattr(err, "msg", err) or err)
    # Secret values never appear in error text: replace them if ansible quoted them.
    for value in secrets.values():
        if isinstance(value, str) and len(value) > 3 and value in text:
            text = text.replace(value, REDACTED)
    return text
