"""The notifications domain: pure rules, no I/O (unit-tested without servers)."""
