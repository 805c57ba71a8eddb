"""Local lab fleets: Debian containers with systemd and sshd, reached over SSH on loopback."""
