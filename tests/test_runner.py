"""Pure parts of the runner seam: artifact rotation, scrubbing, the variables it passes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from cmectl import runner


def test_rotation_keeps_the_newest(tmp_path):
    for i in range(5):
        d = tmp_path / f"run-{i}"
        d.mkdir()
        os.utime(d, (time.time() - 100 + i, time.time() - 100 + i))
    runner._rotate(tmp_path, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-3", "run-4"]


def test_command_artifact_keeps_only_harmless_environment(tmp_path):
    cmd = tmp_path / "command"
    cmd.write_text(json.dumps({"command": ["ansible-playbook"], "env": {
        "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "abc", "ANSIBLE_CONFIG": "/x",
        "MY_TOKEN": "t", "PATH": "/bin"}}))
    runner._scrub_command(cmd, {"PATH": "/bin"})
    assert json.loads(cmd.read_text())["env"] == {"HOME": "/root", "ANSIBLE_CONFIG": "/x",
                                                  "PATH": "/bin"}


def test_playbook_variables(tmp_path):
    plan = runner.Plan(run_id="r1", roles=["nginx"], entry="main", inventory=Path("i"),
                       hosts=("a",), extravars={"nginx_http_port": 81}, serial=[1, "50%"],
                       max_fail=10)
    data = runner._playbook_vars(plan)
    assert data["cmectl_roles"] == ["nginx"] and data["cmectl_serial"] == [1, "50%"]
    assert data["cmectl_max_fail"] == 10 and data["nginx_http_port"] == 81
    assert runner._options(plan) == []
    plan.check, plan.transport = True, "paramiko"
    assert runner._options(plan) == ["--check", "-c", "cmectl_paramiko"]
