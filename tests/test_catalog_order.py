"""Packages asked for together run in dependency order: Java before what runs on it."""

from __future__ import annotations

import pytest

from cmectl.catalog import load_catalogue
from cmectl.errors import UsageError


def ids(packages):
    return [p.id for p in packages]


def test_jdk_goes_first_when_installing_and_last_when_uninstalling():
    catalogue = load_catalogue()
    assert ids(catalogue.resolve(["tomcat", "jdk"], "install")) == ["jdk", "tomcat"]
    assert ids(catalogue.resolve(["tomcat", "jdk"], "verify")) == ["jdk", "tomcat"]
    assert ids(catalogue.resolve(["jdk", "tomcat"], "uninstall")) == ["tomcat", "jdk"]


def test_unrelated_packages_keep_the_order_given():
    catalogue = load_catalogue()
    assert ids(catalogue.resolve(["rsync", "nginx", "tomcat", "jdk"], "install")) == \
        ["rsync", "nginx", "jdk", "tomcat"]
    assert ids(catalogue.resolve(["tomcat"], "install")) == ["tomcat"]  # jdk not added


def test_after_must_name_catalogued_packages(tmp_path):
    (tmp_path / "catalogue.yml").write_text(
        "packages:\n- {id: a, name: A, role: a, status: available, after: [zz]}\n")
    with pytest.raises(UsageError, match="a comes after unknown zz"):
        load_catalogue(tmp_path)
