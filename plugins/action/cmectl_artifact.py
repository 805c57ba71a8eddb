# Copyright: the cmectl authors
# Apache License 2.0
"""Stage an upstream artifact on a host: fetched once into a cache on the controller,
checksum verified, then copied to the host only when the host's copy differs."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase

DOCUMENTATION = r"""
action: cmectl_artifact
short_description: Stage an upstream archive or package on a host, through a controller cache
description:
  - Looks for the artifact, in order, in an offline directory on the controller
    (C(cmectl_artifact_dir)), in the controller's cache, and finally downloads it from its
    URL, rewritten through C(cmectl_artifact_mirrors) when one of their prefixes matches.
  - Every file is checked against C(checksum) before it enters the cache or leaves for a host;
    a mismatching download is discarded and the task fails.
  - The file is then copied to C(dest) on the host, only when the host's copy differs.
  - Hosts need no internet access: only the controller fetches, and only once per artifact.
options:
  url:
    description: Upstream URL of the artifact.
    type: str
    required: true
  checksum:
    description: C(ALGORITHM:HEX), with ALGORITHM one of sha1, sha256, sha512.
    type: str
    required: true
  dest:
    description: Path of the file on the host.
    type: path
    required: true
  name:
    description: File name in the cache and the offline directory (default the URL's last part).
    type: str
  owner:
    type: str
  group:
    type: str
  mode:
    type: raw
    default: "0644"
variables:
  cmectl_artifact_cache: cache directory on the controller (default $CMECTL_HOME/artifacts)
  cmectl_artifact_dir: offline directory of artifacts by file name (checked first)
  cmectl_artifact_mirrors: mapping of URL prefix to mirror prefix
"""

ALGORITHMS = ("sha1", "sha256", "sha512")
CHUNK = 1 << 20


def parse_checksum(text: str) -> tuple[str, str]:
    algo, sep, digest = (text or "").partition(":")
    algo, digest = algo.strip().lower(), digest.strip().lower()
    if not sep or algo not in ALGORITHMS or not digest or \
            any(c not in "0123456789abcdef" for c in digest) or \
            len(digest) != hashlib.new(algo).digest_size * 2:
        raise AnsibleActionFail(
            f"checksum {text!r} is not ALGORITHM:HEX (ALGORITHM one of {', '.join(ALGORITHMS)})")
    return algo, digest


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def mirrored(url: str, mirrors: dict | None) -> str:
    """The URL to fetch: the longest matching mirror prefix replaced, else the URL itself."""
    best = ""
    for prefix in mirrors or {}:
        if url.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return str(mirrors[best]).rstrip("/") + "/" + url[len(best):].lstrip("/") if best else url


def default_cache() -> Path:
    home = os.environ.get("CMECTL_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".cmectl") / "artifacts"


def ensure_cached(url: str, name: str, checksum: str, cache: Path, offline: str | None,
                  mirrors: dict | None, validate_certs: bool = True) -> tuple[Path, str]:
    """Return (path on the controller, where it came from), fetching at most once."""
    algo, digest = parse_checksum(checksum)
    if offline:
        candidate = Path(offline).expanduser() / name
        if candidate.is_file():
            got = file_digest(candidate, algo)
            if got != digest:
                raise AnsibleActionFail(
                    f"{candidate} does not match its checksum ({algo} {got}, expected {digest});"
                    " replace that file with the right one")
            return candidate, "offline directory"
    cache.mkdir(parents=True, exist_ok=True)
    cached = cache / name
    with open(cache / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # hosts run in parallel workers: fetch once
        if cached.is_file() and file_digest(cached, algo) == digest:
            return cached, "cache"
        source = mirrored(url, mirrors)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    resp = open_url(source, timeout=60, validate_certs=validate_certs)
                    shutil.copyfileobj(resp, out, CHUNK)
                except Exception as exc:  # open_url raises many kinds; all mean "not fetched"
                    raise AnsibleActionFail(
                        f"could not download {source}: {exc}; put {name} in the directory named "
                        "by cmectl_artifact_dir, or set cmectl_artifact_mirrors") from None
            got = file_digest(Path(tmp), algo)
            if got != digest:
                raise AnsibleActionFail(
                    f"{source} does not match its checksum ({algo} {got}, expected {digest}); "
                    "the download was discarded")
            os.chmod(tmp, 0o644)
            os.replace(tmp, cached)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return cached, source


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _VALID_ARGS = frozenset(("url", "checksum", "dest", "name", "owner", "group", "mode"))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = self._task.args
        for required in ("url", "checksum", "dest"):
            if not args.get(required):
                raise AnsibleActionFail(f"cmectl_artifact needs {required}")
        url = args["url"]
        name = args.get("name") or url.rstrip("/").rsplit("/", 1)[-1]

        def setting(key: str):
            # Task vars reach an action plugin untemplated: "{{ playbook_dir }}/media" must
            # become a path before it is used.
            value = task_vars.get(key)
            return self._templar.template(value) if value is not None else None

        cache = Path(str(setting("cmectl_artifact_cache") or default_cache())).expanduser()
        local, origin = ensure_cached(
            url, name, args["checksum"], cache, setting("cmectl_artifact_dir"),
            setting("cmectl_artifact_mirrors"))

        copy_args = {"src": str(local), "dest": args["dest"], "mode": args.get("mode", "0644"),
                     "checksum": file_digest(local, "sha1")}
        for key in ("owner", "group"):
            if args.get(key):
                copy_args[key] = args[key]
        task = self._task.copy()
        task.args = copy_args
        copy_action = self._shared_loader_obj.action_loader.get(
            "ansible.legacy.copy", task=task, connection=self._connection,
            play_context=self._play_context, loader=self._loader, templar=self._templar,
            shared_loader_obj=self._shared_loader_obj)
        copied = copy_action.run(task_vars=task_vars)
        result.update(copied)
        result["artifact"] = {"name": name, "source": origin, "controller_path": str(local)}
        result.pop("diff", None)  # binary content: no diff
        return result
