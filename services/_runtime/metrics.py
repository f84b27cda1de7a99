"""Metrics through OpenTelemetry, read off the messages each handler emits.

    nsed.tasks            counter    deliberations concluded, by status and stop reason
    nsed.task.rounds      histogram  rounds per task
    nsed.task.duration    histogram  seconds from intake to result
    nsed.round.duration   histogram  seconds per round
    nsed.call.duration    histogram  seconds per model call, by agent and phase
    nsed.agent.tokens     counter    tokens, by agent and direction (input, output)
    nsed.agent.cost       counter    USD, by agent

Exported over OTLP only when asked for (``OTEL_METRICS_EXPORTER=otlp`` or
``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``): a trace backend such as Jaeger takes no metrics.
``OTEL_METRICS_EXPORTER=none`` turns them off. Otherwise they are written as JSON lines
to ``$NSED_HOME/metrics/`` every ``EXPORT_INTERVAL_MS`` and at shutdown.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from schemas.base import Message
from schemas.gate import DeliberationConcluded
from schemas.propose import ProposalSubmitted
from schemas.review import ReviewSubmitted
from services._runtime.spanfile import JsonlFile

EXPORT_INTERVAL_MS = 10_000


class JsonlMetricExporter(MetricExporter):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.file = JsonlFile(path)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        if self.file.append(metrics_data.to_json(indent=None) + "\n"):
            return MetricExportResult.SUCCESS
        return MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


def metrics_to_collector() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")) or (
        os.environ.get("OTEL_METRICS_EXPORTER", "").strip().lower() == "otlp"
    )


def meter_provider(
    service: str, instance: str, home: str | None, to_collector: bool
) -> MeterProvider:
    resource = Resource.create(
        {
            "service.name": f"nsed-{service}",
            "service.namespace": "nsed",
            "service.instance.id": instance,
        }
    )
    readers = []
    if os.environ.get("OTEL_METRICS_EXPORTER", "").strip().lower() == "none":
        pass
    elif to_collector:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(), EXPORT_INTERVAL_MS))
    elif home is not None:
        path = Path(home) / "metrics" / f"{service}-{instance}.jsonl"
        readers.append(PeriodicExportingMetricReader(JsonlMetricExporter(path), EXPORT_INTERVAL_MS))
    # No exemplars: sampling spans into every measurement costs CPU on the hot path.
    return MeterProvider(
        resource=resource, metric_readers=readers, exemplar_filter=AlwaysOffExemplarFilter()
    )


class Metrics:
    def __init__(self, meter: Meter) -> None:
        self.tasks = meter.create_counter(
            "nsed.tasks", unit="{task}", description="Deliberations concluded"
        )
        self.rounds = meter.create_histogram("nsed.task.rounds", unit="{round}")
        self.task_duration = meter.create_histogram("nsed.task.duration", unit="s")
        self.round_duration = meter.create_histogram("nsed.round.duration", unit="s")
        self.call_duration = meter.create_histogram("nsed.call.duration", unit="s")
        self.tokens = meter.create_counter("nsed.agent.tokens", unit="{token}")
        self.cost = meter.create_counter("nsed.agent.cost", unit="USD")

    def observe(self, outputs: Sequence[Message]) -> None:
        for message in outputs:
            if isinstance(message, DeliberationConcluded):
                self.tasks.add(
                    1, {"nsed.status": message.status, "nsed.stop_reason": message.stop_reason}
                )
                self.rounds.record(message.rounds)
                self.task_duration.record(message.elapsed_s)
                for summary in message.summaries:
                    self.round_duration.record(summary.duration_s)
            elif isinstance(message, ProposalSubmitted | ReviewSubmitted):
                phase = "propose" if isinstance(message, ProposalSubmitted) else "review"
                agent = {"nsed.agent_id": message.agent_id}
                self.call_duration.record(message.latency_s, {**agent, "nsed.phase": phase})
                usage = message.usage
                self.tokens.add(usage.input_tokens, {**agent, "nsed.direction": "input"})
                self.tokens.add(usage.output_tokens, {**agent, "nsed.direction": "output"})
                self.cost.add(usage.cost_usd, agent)
