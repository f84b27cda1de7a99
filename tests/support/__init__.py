"""Test support: a real nats-server per test, and the NSED stack in-process or as processes."""
