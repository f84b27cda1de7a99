"""Test support: a real nats-server per test, the NSED services in-process, and the stack
(the launcher's) as processes."""
