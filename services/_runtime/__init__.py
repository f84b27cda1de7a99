"""Shared plumbing for every service: bus, records, worker loop, lifecycle, settings,
logging, tracing, metrics and the exception tree. No domain logic lives here."""
