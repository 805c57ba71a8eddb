"""The nginx role's generated site and upstream files in the shapes Molecule does not converge.

Molecule serves sites on three Debian releases; these check how free-form directives given in
variables are written: a missing ';' is added, one already there (or a closing '}') is kept.
"""

from __future__ import annotations

import warnings

from tests.roles.render import render

DIRECTIVES = ["client_max_body_size 20m", "gzip on;", "add_header X-Frame-Options DENY;\t ",
              "if ($http_x_block) { return 403; }"]
WRITTEN = ["client_max_body_size 20m;", "gzip on;", "add_header X-Frame-Options DENY;",
           "if ($http_x_block) { return 403; }"]


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_site_directives_end_with_exactly_one_semicolon():
    site = {"name": "app", "server_names": ["app.example.internal"], "directives": DIRECTIVES,
            "locations": [{"path": "/", "directives": DIRECTIVES}]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a regex escape Jinja would have to guess at
        text = render("nginx", "etc/nginx/conf.d/site.conf.j2", __nginx_site=site,
                      __nginx_version="1.22.1")
    for line in WRITTEN:
        assert lines(text).count(line) == 2, text


def test_upstream_directives_end_with_exactly_one_semicolon():
    upstreams = [{"name": "app", "servers": ["10.0.0.5:8080"], "directives": DIRECTIVES}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = render("nginx", "etc/nginx/conf.d/00-upstreams.conf.j2", nginx_upstreams=upstreams)
    assert [line for line in lines(text) if line in WRITTEN] == WRITTEN
    assert "server 10.0.0.5:8080;" in lines(text)
