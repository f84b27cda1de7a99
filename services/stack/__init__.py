"""The local stack: NATS, the five services and an agent pool under supervisord."""
