"""Settings and where each one came from.

Precedence, lowest first: built-in default < ``$CMECTL_HOME/config.toml`` < ``CMECTL_*``
environment variable < command-line option. ``cmectl config show`` prints the origin of each.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmectl.errors import UsageError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def read_toml(path: Path, fix: str) -> dict[str, Any]:
    """A TOML file's content, or a UsageError naming the file; ``fix`` says where to look."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}",
                         "check the file's owner and permissions") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML ({exc})", fix) from None


def project_root() -> Path:
    """The checkout that holds roles/, playbooks/ and the catalogue."""
    root = Path(os.environ.get("CMECTL_PROJECT_DIR", PROJECT_ROOT))
    if not (root / "roles").is_dir() or not (root / "catalogue.yml").is_file():
        raise UsageError(
            f"cmectl cannot find its roles and catalogue under {root}",
            "install cmectl from a checkout (pip install -e .) or set CMECTL_PROJECT_DIR",
        )
    return root


def cmectl_home() -> Path:
    """Where the record store, run artifacts, labs and config.toml live."""
    raw = os.environ.get("CMECTL_HOME")
    home = Path(raw).expanduser() if raw else Path.home() / ".cmectl"
    home.mkdir(parents=True, exist_ok=True)
    return home


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    kind: type
    help: str
    choices: tuple[str, ...] = ()


SETTINGS: tuple[Setting, ...] = (
    Setting("forks", 10, int, "hosts worked on in parallel"),
    Setting("transport", "ssh", str, "how Linux hosts are reached", ("ssh", "paramiko")),
    Setting("keep_artifacts", 50, int, "ansible-runner artifact folders kept; older ones rotate"),
    Setting("connect_timeout", 15, int, "seconds to wait for a host's SSH connection"),
    Setting("calendar", "cn", str, "working calendar for the SLA clock: built-in name or file"),
    Setting("sla_response_minutes", 15, int, "first-response target, in business minutes"),
    Setting("store", "", str, "record store: empty for SQLite in CMECTL_HOME, or a "
            "postgresql:// URL for a shared store"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass
class Settings:
    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


KIND_NAMES = {int: "a whole number", str: "text"}


def _coerce(setting: Setting, raw: Any, origin: str) -> Any:
    try:
        value = setting.kind(raw)
    except (TypeError, ValueError):
        raise UsageError(
            f"setting {setting.name}={raw!r} from {origin} is not {KIND_NAMES[setting.kind]}",
            f"set {setting.name} to {KIND_NAMES[setting.kind]}",
        ) from None
    if setting.choices and value not in setting.choices:
        raise UsageError(
            f"setting {setting.name}={value!r} from {origin} is not one of "
            f"{', '.join(setting.choices)}",
            f"choose one of {', '.join(setting.choices)}",
        )
    if setting.kind is int and value < 1:
        raise UsageError(
            f"setting {setting.name}={value} from {origin} must be at least 1",
            f"set {setting.name} to a positive number",
        )
    return value


def load_settings(overrides: dict[str, Any] | None = None, home: Path | None = None) -> Settings:
    home = home or cmectl_home()
    settings = Settings()
    for s in SETTINGS:
        settings.values[s.name] = s.default
        settings.origins[s.name] = "default"

    config_file = home / "config.toml"
    if config_file.is_file():
        data = read_toml(config_file, "fix or remove that file")
        for key, raw in data.items():
            if key not in _BY_NAME:
                raise UsageError(
                    f"{config_file} sets unknown setting {key!r}",
                    f"known settings: {', '.join(_BY_NAME)}",
                )
            settings.values[key] = _coerce(_BY_NAME[key], raw, str(config_file))
            settings.origins[key] = str(config_file)

    for s in SETTINGS:
        env = f"CMECTL_{s.name.upper()}"
        if env in os.environ:
            settings.values[s.name] = _coerce(s, os.environ[env], env)
            settings.origins[s.name] = env

    for key, raw in (overrides or {}).items():
        if raw is None:
            continue
        settings.values[key] = _coerce(_BY_NAME[key], raw, "command line")
        settings.origins[key] = "command line"
    return settings
