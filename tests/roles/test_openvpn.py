"""The openvpn role's front door and generated files. Molecule runs one server (UDP, EC keys, a
CA passphrase, one route) and one client; these cover the inputs the role must refuse before it
touches a host, and the rendering of the other shapes of server.conf and of a profile."""

from __future__ import annotations

from typing import Any

import pytest

from tests.roles import harness
from tests.roles.harness import FrontDoor, syntax_check_role
from tests.roles.render import render as render_role
from tests.roles.render import value as role_value

ROLE = "openvpn"
PASSPHRASE = "Ca-pass-for-tests-1"
DEBIAN12 = {**harness.DEBIAN12, "hostname": "vpn01"}
RHEL9 = {**harness.RHEL9, "hostname": "vpn01"}
GOOD = {"openvpn_clients": [{"name": "alice"}, {"name": "bob.laptop"}],
        "openvpn_revoked_clients": ["carol"], "openvpn_push_routes": ["192.168.10.0/24"],
        "openvpn_ca_passphrase": PASSPHRASE, "openvpn_remote_host": "vpn.example.com"}

CASES: dict[str, tuple[dict, dict, str | None]] = {
    "good": (DEBIAN12, GOOD, None),
    "good_rhel": (RHEL9, GOOD, None),
    "absent_ignores_the_rest": (DEBIAN12, {"openvpn_state": "absent", "openvpn_subnet": "x"}, None),
    "old_debian": ({**DEBIAN12, "distribution_major_version": "10"}, GOOD,
                   "does not support Debian 10"),
    "subnet_not_cidr": (DEBIAN12, {**GOOD, "openvpn_subnet": "10.8.0.0 255.255.255.0"},
                        "must be IPv4 networks written as address/prefix"),
    "subnet_host_bits": (DEBIAN12, {**GOOD, "openvpn_subnet": "10.8.0.1/24"},
                         "10.8.0.1/24: not a network address"),
    "route_host_bits": (DEBIAN12, {**GOOD, "openvpn_push_routes": ["192.168.10.0/16"]},
                        "192.168.10.0/16: not a network address"),
    "subnet_too_big": (DEBIAN12, {**GOOD, "openvpn_subnet": "10.0.0.0/8"},
                       "between a /16 (65534 addresses, OpenVPN's limit) and a /29"),
    "dns_not_ipv4": (DEBIAN12, {**GOOD, "openvpn_push_dns": ["dns.example.com"]},
                     "openvpn_push_dns must hold IPv4 addresses"),
    "push_option_quoted": (DEBIAN12, {**GOOD, "openvpn_push_options": ['route "10.0.0.0"']},
                           "without double quotes"),
    "directive_two_lines": (DEBIAN12, {**GOOD, "openvpn_server_directives": ["verb 4\nmute 3"]},
                            "one server.conf directive on one line"),
    "keepalive": (DEBIAN12, {**GOOD, "openvpn_keepalive_timeout": 15},
                  "must be at least twice openvpn_keepalive_interval"),
    "nat_without_forwarding": (DEBIAN12, {**GOOD, "openvpn_nat_interface": "eth0"},
                               "needs openvpn_ip_forward: true"),
    # The check runs with no_log (it reads the secret): its task name says what is wrong.
    "short_passphrase": (DEBIAN12, {**GOOD, "openvpn_ca_passphrase": "abc"},
                         "hidden due to the fact that 'no_log: true' was specified"),
    "crl_too_short": (DEBIAN12, {**GOOD, "openvpn_crl_days": 20},
                      "openvpn_crl_days more than 30"),
    "bad_client_name": (DEBIAN12, {**GOOD, "openvpn_clients": [{"name": "alice smith"}]},
                        "Client names"),
    "client_named_server": (DEBIAN12, {**GOOD, "openvpn_clients": [{"name": "server"}]},
                            "not 'server'"),
    "duplicate_client": (DEBIAN12, {**GOOD, "openvpn_clients": [{"name": "a"}, {"name": "a"}]},
                         "each listed once"),
    "issued_and_revoked": (DEBIAN12, {**GOOD, "openvpn_revoked_clients": ["alice"]},
                           "(both: alice)"),
    "remote_with_space": (DEBIAN12, {**GOOD, "openvpn_remote_host": "vpn example"},
                          "openvpn_remote_host must be the DNS name"),
    "relative_fetch_dir": (DEBIAN12, {**GOOD, "openvpn_fetch_dir": "profiles"},
                           "openvpn_fetch_dir must be an absolute path"),
    "wrong_proto": (DEBIAN12, {**GOOD, "openvpn_proto": "icmp"}, "openvpn_proto"),
    "wrong_cipher": (DEBIAN12, {**GOOD, "openvpn_data_ciphers": ["BF-CBC"]},
                     "openvpn_data_ciphers"),
}


class TestFrontDoor(FrontDoor):
    role = ROLE
    cases = CASES
    secrets = (PASSPHRASE,)


# --- derived values and generated files -----------------------------------------------------

def value(expression: str, **overrides: Any) -> Any:
    return role_value(ROLE, expression, **overrides)


def render(template: str, **overrides: Any) -> str:
    return render_role(ROLE, template, **{"__openvpn_version": "2.6.3", **overrides})


def directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("subnet, netmask, server", [
    ("10.8.0.0/24", "255.255.255.0", "10.8.0.1"), ("172.20.0.0/16", "255.255.0.0", "172.20.0.1"),
    ("192.168.5.64/26", "255.255.255.192", "192.168.5.65"),
    ("10.1.2.248/29", "255.255.255.248", "10.1.2.249")])
def test_subnet_becomes_network_netmask_and_server_address(subnet, netmask, server):
    got = value("[__openvpn_subnet_network, __openvpn_subnet_netmask, __openvpn_server_address]",
                openvpn_subnet=subnet)
    assert got == [subnet.split("/")[0], netmask, server]


def test_netmask_table_is_right():
    masks = value("__openvpn_netmasks")
    for prefix, mask in enumerate(masks):
        bits = "".join(f"{int(octet):08b}" for octet in mask.split("."))
        assert bits == "1" * prefix + "0" * (32 - prefix)


def test_default_server_conf():
    conf = directives(render("etc/openvpn/server/server.conf.j2"))
    for line in ("port 1194", "proto udp", "dev tun", "topology subnet",
                 "server 10.8.0.0 255.255.255.0",
                 "dh none", "tls-crypt /etc/openvpn/server/pki/tls-crypt.key",
                 "crl-verify /etc/openvpn/server/crl.pem", "remote-cert-tls client",
                 "data-ciphers AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305", "keepalive 10 120",
                 "user nobody", "group nogroup", "persist-key", "persist-tun",
                 "explicit-exit-notify 1"):
        assert line in conf
    assert not [line for line in conf
                if line.startswith(("push", "client-to-client", "ncp-ciphers"))]


def test_pushed_options_tcp_and_openvpn_2_4():
    conf = directives(render(
        "etc/openvpn/server/server.conf.j2", __openvpn_version="2.4.12", openvpn_proto="tcp",
        openvpn_client_to_client=True, openvpn_push_routes=["10.20.0.0/16", "192.168.1.128/25"],
        openvpn_push_dns=["10.20.0.53", "10.20.0.54"], openvpn_push_domain="corp.example",
        openvpn_redirect_gateway=True, openvpn_push_options=["dhcp-option NTP 10.20.0.1"],
        openvpn_server_directives=["max-clients 50"], ansible_facts={"os_family": "RedHat"},
        __openvpn_group="nobody"))
    pushed = conf[conf.index('push "route 10.20.0.0 255.255.0.0"'):conf.index("keepalive 10 120")]
    assert pushed == [
        'push "route 10.20.0.0 255.255.0.0"', 'push "route 192.168.1.128 255.255.255.128"',
        'push "dhcp-option DNS 10.20.0.53"', 'push "dhcp-option DNS 10.20.0.54"',
        'push "dhcp-option DOMAIN corp.example"', 'push "redirect-gateway def1 bypass-dhcp"',
        'push "dhcp-option NTP 10.20.0.1"']
    assert "client-to-client" in conf and "proto tcp" in conf and conf[-1] == "max-clients 50"
    assert "ncp-ciphers AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305" in conf
    assert "cipher AES-256-GCM" in conf and "group nobody" in conf
    assert "explicit-exit-notify 1" not in conf


def test_profile_is_inline_and_checks_the_server():
    text = render("etc/openvpn/server/clients/client.ovpn.j2",
                  openvpn_remote_host="vpn.example.com",
                  openvpn_proto="tcp", openvpn_port=443, __openvpn_client={"name": "alice"},
                  __openvpn_profile_ca="CA-PEM", __openvpn_profile_cert="CERT-PEM",
                  __openvpn_profile_key="KEY-PEM", __openvpn_profile_tls_crypt="TLS-CRYPT")
    conf = directives(text)
    assert conf[:3] == ["client", "dev tun", "proto tcp"]
    assert "remote vpn.example.com 443" in conf
    assert "remote-cert-tls server" in conf and "verify-x509-name server name" in conf
    body = "\n".join(conf)
    for tag, content in (("ca", "CA-PEM"), ("cert", "CERT-PEM"), ("key", "KEY-PEM"),
                         ("tls-crypt", "TLS-CRYPT")):
        assert f"<{tag}>\n{content}\n</{tag}>" in body


def test_nat_rules_masquerade_the_subnet_only():
    text = render("etc/openvpn/server/nat.nft.j2", openvpn_nat_interface="ens3",
                  openvpn_subnet="10.9.0.0/24")
    assert 'ip saddr 10.9.0.0/24 oifname "ens3" masquerade' in text
    assert "delete table ip cmectl_openvpn" in text


def test_easyrsa_gets_the_passphrase_only_through_the_environment():
    with_pass = value("[__openvpn_passin, __openvpn_passout, __openvpn_easyrsa_secret_env]",
                      openvpn_ca_passphrase=PASSPHRASE)
    assert with_pass == [["--passin=env:CMECTL_OPENVPN_CA_PASS"],
                         ["--passout=env:CMECTL_OPENVPN_CA_PASS"],
                         {"CMECTL_OPENVPN_CA_PASS": PASSPHRASE}]
    assert value("[__openvpn_passin, __openvpn_easyrsa_secret_env]") == [[], {}]


def test_syntax_check(tmp_path):
    proc, files = syntax_check_role(tmp_path, ROLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(files) >= 10
