#!/usr/bin/python
# Copyright: the cmectl authors
# Apache License 2.0
"""Write the local fact a cmectl role leaves on its host."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cmectl_fact
short_description: Leave (or remove) a cmectl role's local fact on the host
description:
  - Writes C(/etc/ansible/facts.d/NAME.fact) as JSON describing what a role installed:
    version, ports, paths and any other facts the role passes.
  - Idempotent. The request id and timestamps are kept as they were while the described
    facts stay the same, so a second run with nothing to change reports C(changed=false).
  - When the facts change, C(request_id) becomes the current request and C(updated_at) now;
    C(installed_at) is set the first time only.
options:
  name:
    description: Fact name, normally the role name; the file is NAME.fact.
    type: str
    required: true
  facts:
    description: What the role installed. Must not contain secrets.
    type: dict
    default: {}
  request_id:
    description: The service request this run fulfils.
    type: str
  state:
    description: C(present) writes the fact, C(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  directory:
    description: Where local facts live.
    type: path
    default: /etc/ansible/facts.d
author: cmectl authors
"""

EXAMPLES = r"""
- name: Record what was installed
  cmectl_fact:
    name: nginx
    facts:
      version: "1.22.1"
      ports: [80, 443]
    request_id: "{{ cmectl_request_id | default(omit) }}"
"""

RETURN = r"""
fact:
  description: The content of the fact file after the task (empty when absent).
  returned: always
  type: dict
path:
  description: The fact file.
  returned: always
  type: str
"""

import datetime
import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

BOOKKEEPING = ("package", "request_id", "installed_at", "updated_at")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def merge(previous, name, facts, request_id, now):
    """The fact to write, given the previous one. Pure: the unit tests call it directly."""
    previous = previous or {}
    described = {k: v for k, v in previous.items() if k not in BOOKKEEPING}
    if previous and described == facts:
        return previous
    new = dict(facts)
    new["package"] = name
    new["installed_at"] = previous.get("installed_at") or now
    new["updated_at"] = now
    new["request_id"] = request_id or previous.get("request_id")
    return new


def _read(path):
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            facts=dict(type="dict", default={}),
            request_id=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            directory=dict(type="path", default="/etc/ansible/facts.d"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    # Facts round-trip through JSON so the comparison sees what the file would hold.
    facts = json.loads(json.dumps(p["facts"]))
    path = os.path.join(p["directory"], p["name"] + ".fact")
    previous = _read(path) if os.path.exists(path) else None

    if p["state"] == "absent":
        changed = os.path.exists(path)
        if changed and not module.check_mode:
            os.unlink(path)
        module.exit_json(changed=changed, fact={}, path=path,
                         diff=dict(before=previous or {}, after={}))

    new = merge(previous, p["name"], facts, p["request_id"], _now())
    changed = new != previous
    if changed and not module.check_mode:
        os.makedirs(p["directory"], mode=0o755, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p["directory"], prefix=".cmectl-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(new, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    module.exit_json(changed=changed, fact=new, path=path,
                     diff=dict(before=previous or {}, after=new))


if __name__ == "__main__":
    main()
