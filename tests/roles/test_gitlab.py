"""The gitlab role's generated files and derived values, its input checks, its handling of the
initial root password, and its syntax.

GitLab's package cannot be obtained here (the vendor's repository is not reachable), so the
Molecule scenario prepares one host and stops before the package. These tests cover what it
cannot: gitlab.rb for plain HTTP, Let's Encrypt and a customer certificate, the ports and URLs that
follow from the external URL, the package names asked of apt and dnf, the repository line, the
backup units for other settings, and the refusals of wrong input before any host is touched.
"""

from __future__ import annotations

import sys

import pytest

from cmectl.errors import VariableError
from cmectl.variables import REDACTED
from tests.roles import render as rendering
from tests.roles.harness import (
    assert_validation,
    check_package,
    syntax_check_role,
    tasks_leaking,
    validation_run,
)

ROLE = "gitlab"
PASSWORD = "Gl-S3cret'pw\\x"
RB = "etc/gitlab/gitlab.rb.j2"
SERVICE = "etc/systemd/system/gitlab-backup.service.j2"
TIMER = "etc/systemd/system/gitlab-backup.timer.j2"
RUN_VARS = {"gitlab_root_password": PASSWORD, "gitlab_tls_self_signed": True}


def value(expression, **variables):
    return rendering.value(ROLE, expression, **{**RUN_VARS, **variables})


def render(template, **variables):
    return rendering.render(ROLE, template, **{**RUN_VARS, **variables})


def settings(text):
    """gitlab.rb's assignments and calls, one per line: left side -> right side as written."""
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if " = " in line:
            key, _, right = line.partition(" = ")
        else:
            key, _, right = line.partition(" ")
        found[key] = right
    return found


# --- gitlab.rb ---------------------------------------------------------------------------------

def test_default_is_https_on_the_fqdn_with_the_self_signed_certificate():
    text = render(RB)  # a host whose FQDN is app01.example.internal
    assert text.startswith("#")
    rb = settings(text)
    assert rb["external_url"] == "'https://app01.example.internal'"
    assert rb["letsencrypt['enable']"] == "false"
    assert rb["nginx['redirect_http_to_https']"] == "true"
    assert rb["nginx['ssl_certificate']"] == "'/etc/gitlab/ssl/app01.example.internal.crt'"
    assert rb["nginx['ssl_certificate_key']"] == "'/etc/gitlab/ssl/app01.example.internal.key'"
    assert rb["nginx['ssl_protocols']"] == "'TLSv1.2 TLSv1.3'"
    assert rb["gitlab_rails['backup_path']"] == "'/var/opt/gitlab/backups'"
    assert rb["gitlab_rails['backup_keep_time']"] == "604800"
    assert rb["gitlab_rails['gitlab_shell_ssh_port']"] == "22"
    assert rb["gitlab_rails['time_zone']"] == "'UTC'"
    assert rb["prometheus_monitoring['enable']"] == "true"


def test_the_root_password_is_never_in_gitlab_rb():
    text = render(RB, gitlab_root_email="admin@example.com")
    assert PASSWORD not in text and "S3cret" not in text
    assert "initial_root_password" not in settings(text)
    assert "admin@example.com" not in text


def test_plain_http_has_no_tls_settings():
    rb = settings(render(RB, gitlab_external_url="http://git.example.com:8080",
                         gitlab_tls_self_signed=False))
    assert rb["external_url"] == "'http://git.example.com:8080'"
    assert not [key for key in rb if key.startswith("nginx[")]
    assert value("__gitlab_ports", gitlab_external_url="http://git.example.com:8080") == [8080]


def test_lets_encrypt_lets_gitlab_fetch_its_own_certificate():
    rb = settings(render(RB, gitlab_tls_self_signed=False, gitlab_letsencrypt_enabled=True,
                         gitlab_letsencrypt_contact_emails=["ops@example.com", "sre@example.com"]))
    assert rb["letsencrypt['enable']"] == "true"
    assert rb["letsencrypt['contact_emails']"] == "['ops@example.com', 'sre@example.com']"
    assert "nginx['ssl_certificate']" not in rb


def test_ruby_strings_escape_quotes_and_backslashes():
    rb = settings(render(RB, gitlab_backup_path="/srv/o'brien\\backups"))
    assert rb["gitlab_rails['backup_path']"] == "'/srv/o\\'brien\\\\backups'"


def test_settings_and_extra_lines():
    text = render(RB, gitlab_ssh_port=2222, gitlab_time_zone="Asia/Shanghai",
                  gitlab_backup_keep_time=86400, gitlab_prometheus_enabled=False,
                  gitlab_redirect_http_to_https=False,
                  gitlab_extra_config=["puma['worker_processes'] = 2",
                                       "gitlab_rails['gitlab_default_theme'] = 2"])
    rb = settings(text)
    assert rb["gitlab_rails['gitlab_shell_ssh_port']"] == "2222"
    assert rb["gitlab_rails['time_zone']"] == "'Asia/Shanghai'"
    assert rb["gitlab_rails['backup_keep_time']"] == "86400"
    assert rb["prometheus_monitoring['enable']"] == "false"
    assert rb["nginx['redirect_http_to_https']"] == "false"
    assert text.rstrip().endswith("puma['worker_processes'] = 2\n"
                                  "gitlab_rails['gitlab_default_theme'] = 2")


# --- derived values --------------------------------------------------------------------------

@pytest.mark.parametrize("url, redirect, ports, readiness", [
    ("https://git.example.com", True, [80, 443], "https://127.0.0.1:443/-/readiness"),
    ("https://git.example.com:8443", True, [80, 8443], "https://127.0.0.1:8443/-/readiness"),
    ("https://git.example.com", False, [443], "https://127.0.0.1:443/-/readiness"),
    ("http://git.example.com", True, [80], "http://127.0.0.1:80/-/readiness"),
    ("https://git.example.com/gitlab/", True, [80, 443], "https://127.0.0.1:443/gitlab/-/readiness"),
])
def test_ports_and_readiness_follow_the_external_url(url, redirect, ports, readiness):
    variables = {"gitlab_external_url": url, "gitlab_redirect_http_to_https": redirect}
    assert value("__gitlab_ports", **variables) == ports
    assert value("__gitlab_readiness_url", **variables) == readiness


def test_certificate_paths_follow_the_host_name():
    variables = {"gitlab_external_url": "https://git.example.com:8443"}
    assert value("__gitlab_tls_cert_path", **variables) == "/etc/gitlab/ssl/git.example.com.crt"
    assert value("__gitlab_tls_key_path", **variables) == "/etc/gitlab/ssl/git.example.com.key"
    assert value("__gitlab_tls_managed | bool", gitlab_letsencrypt_enabled=True) is False


@pytest.mark.parametrize("family, version, spec", [
    ("Debian", "", "gitlab-ce"), ("Debian", "18.5.1", "gitlab-ce=18.5.1-ce.0"),
    ("RedHat", "", "gitlab-ce"), ("RedHat", "18.5.1", "gitlab-ce-18.5.1")])
def test_package_asked_of_apt_and_dnf(family, version, spec):
    facts = {"os_family": family}
    assert value("__gitlab_package_spec", ansible_facts=facts, gitlab_version=version) == spec


@pytest.mark.parametrize("facts, line", [
    ({"distribution": "Debian", "distribution_release": "bookworm"},
     "deb [signed-by=/etc/apt/keyrings/gitlab_gitlab-ce.asc] "
     "https://packages.gitlab.com/gitlab/gitlab-ce/debian/ bookworm main"),
    ({"distribution": "Ubuntu", "distribution_release": "noble"},
     "deb [signed-by=/etc/apt/keyrings/gitlab_gitlab-ce.asc] "
     "https://packages.gitlab.com/gitlab/gitlab-ce/ubuntu/ noble main"),
])
def test_repository_line(facts, line):
    assert value("__gitlab_repository_line", ansible_facts=facts) == line


def test_mirror_and_its_key():
    mirror = {"gitlab_repository_url": "https://nexus.example.lan/repository/gitlab-ce/"}
    assert value("__gitlab_repository_line", **mirror).endswith(
        "https://nexus.example.lan/repository/gitlab-ce/debian/ bookworm main")
    assert value("gitlab_repository_key_url", gitlab_repository_url="https://m.lan/gl") == \
        "https://m.lan/gl/gpgkey"
    rhel = {"os_family": "RedHat", "distribution": "Rocky", "distribution_major_version": "9"}
    assert rendering.value(ROLE, "__gitlab_repository_baseurl", ansible_facts=rhel) == \
        "https://packages.gitlab.com/gitlab/gitlab-ce/el/9/$basearch"


@pytest.mark.parametrize("package, name, is_url", [
    ("gitlab-ce_18.5.1-ce.0_amd64.deb", "gitlab-ce_18.5.1-ce.0_amd64.deb", False),
    ("https://nexus.example.lan/gitlab/gitlab-ce-18.5.1-ce.0.el9.x86_64.rpm",
     "gitlab-ce-18.5.1-ce.0.el9.x86_64.rpm", True)])
def test_package_file_name_and_kind(package, name, is_url):
    assert value("__gitlab_package_name", gitlab_package_file=package) == name
    assert bool(value("__gitlab_package_is_url", gitlab_package_file=package)) is is_url


def test_package_file_is_found_in_the_artifact_dir_or_the_cache(tmp_path):
    media, cache = tmp_path / "media", tmp_path / "cache"
    media.mkdir()
    cache.mkdir()
    name = "gitlab-ce_18.5.1-ce.0_amd64.deb"
    common = {"gitlab_package_file": name, "cmectl_artifact_dir": str(media),
              "cmectl_artifact_cache": str(cache)}
    assert value("__gitlab_package_on_controller | bool", **common) is False
    (cache / name).write_bytes(b"x")
    assert value("__gitlab_package_on_controller | bool", **common) is True
    (cache / name).unlink()
    (media / name).write_bytes(b"x")
    assert value("__gitlab_package_on_controller | bool", **common) is True


def test_first_reconfigure_gets_the_root_account_in_its_environment():
    assert value("__gitlab_first_environment") == {"GITLAB_ROOT_PASSWORD": PASSWORD}
    assert value("__gitlab_first_environment", gitlab_root_email="admin@example.com") == {
        "GITLAB_ROOT_PASSWORD": PASSWORD, "GITLAB_ROOT_EMAIL": "admin@example.com"}


# --- backup units ------------------------------------------------------------------------------

def test_backup_service_backs_up_data_then_configuration_then_prunes():
    lines = render(SERVICE, gitlab_backup_skip=["artifacts", "registry"],
                   gitlab_backup_keep_time=259200).splitlines()
    starts = [line for line in lines if line.startswith("ExecStart=")]
    assert starts == [
        "ExecStart=/opt/gitlab/bin/gitlab-backup create",
        "ExecStart=/opt/gitlab/bin/gitlab-ctl backup-etc --backup-path /etc/gitlab/config_backup",
        "ExecStart=/usr/bin/find /etc/gitlab/config_backup -maxdepth 1 -type f "
        "-name gitlab_config_*.tar -mmin +4320 -delete"]
    assert "Type=oneshot" in lines
    assert "Environment=CRON=1" in lines and "Environment=SKIP=artifacts,registry" in lines
    assert "ConditionPathExists=/opt/gitlab/bin/gitlab-backup" in lines


def test_backups_kept_forever_are_not_pruned():
    lines = render(SERVICE, gitlab_backup_keep_time=0).splitlines()
    assert not [line for line in lines if "find" in line]
    assert not [line for line in lines if line.startswith("Environment=SKIP")]


def test_odd_keep_times_round_the_pruning_up_to_a_minute():
    assert "-mmin +2 -delete" in render(SERVICE, gitlab_backup_keep_time=61)


def test_timer_runs_on_the_schedule_and_catches_up():
    lines = render(TIMER, gitlab_backup_on_calendar="Mon..Fri 03:30").splitlines()
    assert "OnCalendar=Mon..Fri 03:30" in lines
    assert "Persistent=true" in lines
    assert "WantedBy=timers.target" in lines


def test_templates_start_with_the_managed_comment():
    for path in (rendering.ROLES / ROLE / "templates").rglob("*.j2"):
        assert path.read_text().startswith("{{ ansible_managed | comment }}"), path


# --- secrets -------------------------------------------------------------------------------------

def test_every_task_handling_a_secret_has_no_log():
    secrets = ["gitlab_root_password", "gitlab_tls_key", "__gitlab_tls_key_pem",
               "__gitlab_first_environment"]
    assert tasks_leaking(ROLE, secrets) == []


def test_the_fact_holds_no_secret():
    record = (rendering.ROLES / ROLE / "tasks" / "record.yml").read_text()
    for name in ("gitlab_root_password", "gitlab_tls_key", "__gitlab_first_environment"):
        assert name not in record


# --- cmectl's check of the argument_specs ----------------------------------------------------

@pytest.mark.parametrize("raw, message", [
    ({"gitlab_state": "gone"}, "gitlab_state"),
    ({"gitlab_ssh_port": "ssh"}, "gitlab_ssh_port"),
    ({"gitlab_backup_keep_time": "a week"}, "gitlab_backup_keep_time"),
    ({"gitlab_backup_enabled": "sometimes"}, "gitlab_backup_enabled"),
    ({"gitlab_root_pasword": PASSWORD}, "did you mean gitlab_root_password"),
])
def test_wrong_input_is_refused_before_any_host_is_touched(raw, message):
    with pytest.raises(VariableError) as err:
        check_package(ROLE, raw)
    assert message in str(err.value)
    assert PASSWORD not in str(err.value)


def test_good_input_is_converted_and_secrets_redacted():
    checked = check_package(ROLE, {"gitlab_ssh_port": "2222", "gitlab_root_password": PASSWORD,
                                   "gitlab_tls_key": "-----BEGIN PRIVATE KEY-----"})
    assert checked.values["gitlab_ssh_port"] == 2222
    redacted = checked.redacted()
    assert redacted["gitlab_root_password"] == REDACTED
    assert redacted["gitlab_tls_key"] == REDACTED


# --- the role's front door, run by ansible-playbook -------------------------------------------

DEBIAN12 = {"os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12",
            "distribution_release": "bookworm", "memtotal_mb": 8192, "fqdn": "git.example.com"}
SMALL = {**DEBIAN12, "memtotal_mb": 2048}
UBUNTU20 = {**DEBIAN12, "distribution": "Ubuntu", "distribution_major_version": "20"}
GOOD = {"gitlab_root_password": PASSWORD, "gitlab_tls_self_signed": True}
PACKAGE = "gitlab-ce_18.5.1-ce.0_amd64.deb"

CASES: dict[str, tuple[dict, dict, str | None]] = {
    "https_self_signed_ok": (DEBIAN12, GOOD, None),
    "http_ok": (DEBIAN12, {"gitlab_root_password": PASSWORD,
                           "gitlab_external_url": "http://git.example.com"}, None),
    "letsencrypt_ok": (DEBIAN12, {"gitlab_root_password": PASSWORD,
                                  "gitlab_letsencrypt_enabled": True,
                                  "gitlab_letsencrypt_contact_emails": ["ops@example.com"]}, None),
    "package_file_ok": (DEBIAN12, {**GOOD, "gitlab_package_file": PACKAGE,
                                   "gitlab_package_checksum": "sha256:" + "ab" * 32}, None),
    "prepared_on_small_host_ok": (SMALL, {**GOOD, "gitlab_stop_before_package": True}, None),
    "absent_needs_nothing": (DEBIAN12, {"gitlab_state": "absent"}, None),
    "old_ubuntu": (UBUNTU20, GOOD, "does not support Ubuntu 20"),
    "small_host": (SMALL, GOOD, "GitLab needs at least 4 GB"),
    "https_without_certificate": (DEBIAN12, {"gitlab_root_password": PASSWORD},
                                  "needs a certificate from exactly one source"),
    "letsencrypt_and_customer": (DEBIAN12, {"gitlab_root_password": PASSWORD,
                                            "gitlab_letsencrypt_enabled": True,
                                            "gitlab_tls_certificate": "x", "gitlab_tls_key": "y"},
                                 "needs a certificate from exactly one source"),
    "certificate_without_key": (DEBIAN12, {**GOOD, "gitlab_tls_certificate": "x"},
                                "Give the customer certificate and its private key together"),
    "ftp_url": (DEBIAN12, {**GOOD, "gitlab_external_url": "ftp://git.example.com"},
                "gitlab_external_url must be the http:// or https:// URL"),
    "url_with_quote": (DEBIAN12, {**GOOD, "gitlab_external_url": "https://git'.example.com"},
                       "gitlab_external_url must be the http:// or https:// URL"),
    "short_password": (DEBIAN12, {**GOOD, "gitlab_root_password": "short"}, "hidden"),
    "bad_version": (DEBIAN12, {**GOOD, "gitlab_version": "18.5"}, "gitlab_version must be empty"),
    "package_without_checksum": (DEBIAN12, {**GOOD, "gitlab_package_file": PACKAGE},
                                 "The role refuses a package without a checksum"),
    "rpm_on_debian": (DEBIAN12, {**GOOD,
                                 "gitlab_package_file": "gitlab-ce-18.5.1-ce.0.el9.x86_64.rpm",
                                 "gitlab_package_checksum": "sha256:" + "ab" * 32},
                      "a gitlab-ce .deb for Debian"),
    "package_missing": (DEBIAN12, {**GOOD, "gitlab_package_file": "gitlab-ce_18.4.0-ce.0_amd64.deb",
                                   "gitlab_package_checksum": "sha256:" + "ab" * 32},
                        "is not on the controller"),
    "bad_skip": (DEBIAN12, {**GOOD, "gitlab_backup_skip": ["everything"]},
                 "gitlab_backup_skip may name"),
    "backup_in_var": (DEBIAN12, {**GOOD, "gitlab_backup_path": "/var/opt"},
                      "must be absolute paths of directories of their own"),
    "bad_email": (DEBIAN12, {**GOOD, "gitlab_root_email": "root"},
                  "gitlab_root_email must be an e-mail address"),
}


@pytest.fixture(scope="module")
def front_door(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gitlab-validate")
    media = tmp / "media"
    media.mkdir()
    (media / PACKAGE).write_bytes(b"stand-in: only its name is looked at here")
    hosts = {name: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                    "case_facts": facts, "cmectl_artifact_dir": str(media),
                    "cmectl_artifact_cache": str(tmp / "cache"), **variables}
             for name, (facts, variables, _) in CASES.items()}
    return validation_run(tmp, ROLE, hosts)


@pytest.mark.parametrize("case", [c for c in CASES if c != "short_password"])
def test_front_door(front_door, case):
    _, per_host = front_door
    assert_validation(case, per_host[case], CASES[case][2])


def test_a_short_password_is_refused_without_being_shown(front_door):
    _, per_host = front_door
    failed = [r for r in per_host["short_password"] if r.get("failed")]
    assert failed and "no_log" in failed[0].get("censored", "")


def test_front_door_never_prints_the_password(front_door):
    proc, _ = front_door
    assert PASSWORD not in proc.stdout + proc.stderr
    assert "S3cret" not in proc.stdout + proc.stderr


# --- every task file parses and every module resolves ------------------------------------------

def test_syntax_check(tmp_path):
    proc, files = syntax_check_role(tmp_path, ROLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(files) >= 12
