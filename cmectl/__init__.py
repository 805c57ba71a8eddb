"""cmectl: fulfil CME software service requests with Ansible roles, and record every run."""

__version__ = "0.1.0"
