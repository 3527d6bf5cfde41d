"""Grafana dashboards as code: writes dashboards/*.json from the definitions below.

    python deploy/grafana/generate.py           # rewrite the JSON files
    python deploy/grafana/generate.py --check   # exit 1 if they differ (CI, review)

Standard library only. The metrics are the ones infra/metrics.py exports from every
process (labels never carry ids or patient data):

    http_requests_total{service,method,route,status}
    http_request_duration_seconds_bucket{service,method,route,le}
    eventstore_events_appended_total{service,type}
    outbox_events_published_total{service,topic}
    outbox_unpublished_events{service}            gauge, per process
    consumer_events_total{service,group,topic,outcome}
    consumer_dead_letters_total{service,group,topic}

and the notifications service's webhook_* and notification_emails_total
(services/notifications/metrics.py),

plus kafka_consumergroup_lag{consumergroup,topic,partition} from Strimzi's Kafka
Exporter (deploy/k8s/base/kafka/kafka.yaml). Every panel uses the dashboard's
Prometheus data-source variable, so the files work with any Grafana.
"""

from __future__ import annotations

import json
import sys
from itertools import count
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
sys.path.insert(0, str(HERE.parent))

import service_registry  # noqa: E402  (deploy/service_registry.py, standard library only)

# The services that exist (deploy/services.toml): a planned one has no metrics to show yet.
SERVICES = [s.name for s in service_registry.existing()]
DS = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"

# Metrics the platform exports, with their label names: the dashboards may use no other.
PLATFORM_METRICS = {
    "http_requests_total": {"service", "method", "route", "status"},
    "http_request_duration_seconds_bucket": {"service", "method", "route", "le"},
    "http_request_duration_seconds_count": {"service", "method", "route"},
    "http_request_duration_seconds_sum": {"service", "method", "route"},
    "eventstore_events_appended_total": {"service", "type"},
    "outbox_events_published_total": {"service", "topic"},
    "outbox_unpublished_events": {"service"},
    "consumer_events_total": {"service", "group", "topic", "outcome"},
    "consumer_dead_letters_total": {"service", "group", "topic"},
    "kafka_consumergroup_lag": {"consumergroup", "topic", "partition"},
    # notifications (services/notifications/metrics.py)
    "webhook_attempts_total": {"outcome"},
    "webhook_deliveries_finished_total": {"outcome"},
    "webhook_attempt_duration_seconds_bucket": {"le"},
    "webhook_event_to_first_attempt_seconds_bucket": {"le"},
    "webhook_queue_depth": set(),
    "webhook_oldest_pending_age_seconds": set(),
    "webhook_endpoints_disabled_total": {"reason"},
    "notification_emails_total": {"outcome"},
}


# ------------------------------------------------------------------ building blocks
def datasource_var() -> dict:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "includeAll": False,
        "multi": False,
    }


def service_var(query: str | None = None) -> dict:
    """Service selector: from the data when a metric has every service, else a fixed list."""
    if query:
        return {
            "name": "service",
            "label": "Service",
            "type": "query",
            "datasource": DS,
            "definition": query,
            "query": {"query": query, "refId": "service"},
            "refresh": 2,
            "sort": 1,
            "includeAll": True,
            "allValue": ".*",
            "multi": True,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "hide": 0,
            "regex": "",
        }
    return {
        "name": "service",
        "label": "Service",
        "type": "custom",
        "query": ",".join(SERVICES),
        "options": [],
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
    }


def query_var(name: str, label: str, query: str) -> dict:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": name},
        "refresh": 2,
        "sort": 1,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "regex": "",
    }


class Layout:
    """Places panels on Grafana's 24-column grid, row by row, with unique ids."""

    def __init__(self) -> None:
        self.panels: list[dict] = []
        self.y = 0
        self.x = 0
        self.row_height = 0
        self.ids = count(1)

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {"type": "row", "title": title, "id": next(self.ids), "collapsed": False, "panels": [],
             "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}}
        )
        self.y += 1

    def add(self, panel: dict, w: int, h: int) -> None:
        if self.x + w > 24:
            self._newline()
        panel["id"] = next(self.ids)
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.panels.append(panel)
        self.x += w
        self.row_height = max(self.row_height, h)

    def _newline(self) -> None:
        if self.x:
            self.y += self.row_height
        self.x = 0
        self.row_height = 0


def target(expr: str, legend: str, ref: str = "A", instant: bool = False) -> dict:
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref, "range": not instant}
    if instant:
        t["instant"] = True
    return t


def timeseries(title: str, description: str, targets: list[dict], unit: str, *,
               stack: bool = False, thresholds: list[tuple[float | None, str]] | None = None,
               bars: bool = False) -> dict:
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "min": 0,
                "custom": {
                    "drawStyle": "bars" if bars else "line",
                    "lineWidth": 1,
                    "fillOpacity": 60 if bars else (20 if stack else 5),
                    "showPoints": "never",
                    "spanNulls": False,
                    "stacking": {"mode": "normal" if stack else "none", "group": "A"},
                    "thresholdsStyle": {"mode": "line" if thresholds else "off"},
                },
                "thresholds": _thresholds(thresholds),
                "color": {"mode": "palette-classic"},
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["mean", "max", "lastNotNull"],
                       "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(title: str, description: str, expr: str, unit: str,
         thresholds: list[tuple[float | None, str]], *, decimals: int | None = None) -> dict:
    defaults: dict = {"unit": unit, "thresholds": _thresholds(thresholds), "color": {"mode": "thresholds"}}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, title, instant=True)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "center",
            "textMode": "value",
            "orientation": "auto",
        },
    }


def table(title: str, description: str, targets: list[dict], unit: str, sort_by: str) -> dict:
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        ],
        "fieldConfig": {"defaults": {"unit": unit, "custom": {"align": "auto"}}, "overrides": []},
        "options": {"showHeader": True, "sortBy": [{"displayName": sort_by, "desc": True}],
                    "footer": {"show": False}},
    }


def _thresholds(steps: list[tuple[float | None, str]] | None) -> dict:
    steps = steps or [(None, "green")]
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


def dashboard(uid: str, title: str, description: str, tags: list[str], variables: list[dict],
              panels: list[dict], links: list[dict]) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": tags,
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "schemaVersion": 39,
        "version": 1,
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": links,
        "panels": panels,
    }


# ------------------------------------------------------------------ HTTP dashboard
def http_dashboard() -> dict:
    sel = 'service=~"$service"'
    rsel = 'service=~"$service", route=~"$route"'
    L = Layout()

    L.row("Overview (selected services)")
    L.add(stat("Requests / s", "All HTTP requests per second.",
               f"sum(rate(http_requests_total{{{sel}}}[{RATE}]))", "reqps", [(None, "blue")]), 6, 4)
    L.add(stat("5xx ratio", "Share of requests answered with a server error.",
               f'sum(rate(http_requests_total{{{sel}, status=~"5.."}}[{RATE}])) '
               f"/ sum(rate(http_requests_total{{{sel}}}[{RATE}]))",
               "percentunit", [(None, "green"), (0.001, "orange"), (0.01, "red")], decimals=2), 6, 4)
    L.add(stat("p95 latency", "95th percentile of request duration over all selected services.",
               f"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[{RATE}])))",
               "s", [(None, "green"), (0.25, "orange"), (1, "red")]), 6, 4)
    L.add(stat("p99 latency", "99th percentile of request duration over all selected services.",
               f"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[{RATE}])))",
               "s", [(None, "green"), (0.5, "orange"), (2.5, "red")]), 6, 4)

    L.row("Per service")
    L.add(timeseries("Request rate by service", "Requests per second, by service.",
                     [target(f"sum by (service) (rate(http_requests_total{{{sel}}}[{RATE}]))", "{{service}}")],
                     "reqps", stack=True), 12, 8)
    L.add(timeseries("Responses by status class", "Requests per second by service and status class (2xx, 4xx, 5xx).",
                     [target('sum by (service, status_class) (label_replace(rate(http_requests_total{'
                             f'{sel}}}[{RATE}]), "status_class", "${{1}}xx", "status", "([0-9]).."))',
                             "{{service}} {{status_class}}")],
                     "reqps", stack=True), 12, 8)
    L.add(timeseries("p95 latency by service", "95th percentile request duration, by service.",
                     [target("histogram_quantile(0.95, sum by (service, le) "
                             f"(rate(http_request_duration_seconds_bucket{{{sel}}}[{RATE}])))", "{{service}}")],
                     "s", thresholds=[(None, "green"), (0.25, "orange"), (1, "red")]), 12, 8)
    L.add(timeseries("p99 latency by service", "99th percentile request duration, by service.",
                     [target("histogram_quantile(0.99, sum by (service, le) "
                             f"(rate(http_request_duration_seconds_bucket{{{sel}}}[{RATE}])))", "{{service}}")],
                     "s", thresholds=[(None, "green"), (0.5, "orange"), (2.5, "red")]), 12, 8)
    L.add(timeseries("5xx rate by service", "Server errors per second, by service.",
                     [target(f'sum by (service) (rate(http_requests_total{{{sel}, status=~"5.."}}[{RATE}]))',
                             "{{service}}")],
                     "reqps", thresholds=[(None, "green"), (0.01, "red")]), 12, 8)
    L.add(timeseries("5xx ratio by service", "Share of a service's requests answered with a server error.",
                     [target(f'sum by (service) (rate(http_requests_total{{{sel}, status=~"5.."}}[{RATE}])) '
                             f"/ sum by (service) (rate(http_requests_total{{{sel}}}[{RATE}]))", "{{service}}")],
                     "percentunit", thresholds=[(None, "green"), (0.01, "red")]), 12, 8)

    L.row("Per route")
    L.add(timeseries("Request rate by route", "Requests per second by service, method and route template.",
                     [target(f"sum by (service, method, route) (rate(http_requests_total{{{rsel}}}[{RATE}]))",
                             "{{service}} {{method}} {{route}}")], "reqps"), 24, 9)
    L.add(timeseries("p95 latency by route", "95th percentile request duration by route.",
                     [target("histogram_quantile(0.95, sum by (service, method, route, le) "
                             f"(rate(http_request_duration_seconds_bucket{{{rsel}}}[{RATE}])))",
                             "{{service}} {{method}} {{route}}")], "s"), 12, 9)
    L.add(timeseries("p99 latency by route", "99th percentile request duration by route.",
                     [target("histogram_quantile(0.99, sum by (service, method, route, le) "
                             f"(rate(http_request_duration_seconds_bucket{{{rsel}}}[{RATE}])))",
                             "{{service}} {{method}} {{route}}")], "s"), 12, 9)
    L.add(timeseries("5xx rate by route", "Server errors per second by route and status.",
                     [target(f'sum by (service, method, route, status) (rate(http_requests_total{{{rsel}, status=~"5.."}}[{RATE}]))',
                             "{{service}} {{method}} {{route}} {{status}}")], "reqps"), 12, 8)
    L.add(timeseries("4xx rate by route", "Client errors per second by route and status (validation, auth, not found).",
                     [target(f'sum by (service, method, route, status) (rate(http_requests_total{{{rsel}, status=~"4.."}}[{RATE}]))',
                             "{{service}} {{method}} {{route}} {{status}}")], "reqps"), 12, 8)
    L.add(table("Routes over the selected time range",
                "Requests, server errors and latency percentiles per route over the dashboard's time range.",
                [target(f"sum by (service, method, route) (increase(http_requests_total{{{rsel}}}[$__range]))",
                        "requests", "A", instant=True),
                 target(f'sum by (service, method, route) (increase(http_requests_total{{{rsel}, status=~"5.."}}[$__range]))',
                        "5xx", "B", instant=True),
                 target("histogram_quantile(0.95, sum by (service, method, route, le) "
                        f"(increase(http_request_duration_seconds_bucket{{{rsel}}}[$__range])))", "p95", "C", instant=True),
                 target("histogram_quantile(0.99, sum by (service, method, route, le) "
                        f"(increase(http_request_duration_seconds_bucket{{{rsel}}}[$__range])))", "p99", "D", instant=True)],
                "short", "Value #A"), 24, 10)

    return dashboard(
        "provider-platform-http", "Provider Platform / HTTP",
        "Request rate, latency percentiles and errors of the platform's HTTP services, per service and route.",
        ["provider-platform", "http"],
        [datasource_var(), service_var("label_values(http_requests_total, service)"),
         query_var("route", "Route", 'label_values(http_requests_total{service=~"$service"}, route)')],
        L.panels,
        [{"title": "Events and consumers", "type": "link", "url": "/d/provider-platform-events",
          "keepTime": True, "includeVars": False, "asDropdown": False, "icon": "dashboard", "targetBlank": False}],
    )


# ------------------------------------------------------------------ events dashboard
def events_dashboard() -> dict:
    sel = 'service=~"$service"'
    L = Layout()

    L.row("Overview")
    L.add(stat("Outbox backlog", "Events stored but not yet published to Kafka (largest per service). "
               "Grows while Kafka is unreachable; must drain afterwards.",
               f"sum(max by (service) (outbox_unpublished_events{{{sel}}}))", "short",
               [(None, "green"), (100, "orange"), (1000, "red")]), 6, 4)
    L.add(stat("Dead letters (time range)", "Events parked on a .dlq topic over the dashboard's time range. "
               "Each one needs a look: fix and re-drive.",
               f"sum(increase(consumer_dead_letters_total{{{sel}}}[$__range]))", "short",
               [(None, "green"), (1, "red")], decimals=0), 6, 4)
    L.add(stat("Events appended / s", "Events written to the services' event stores.",
               f"sum(rate(eventstore_events_appended_total{{{sel}}}[{RATE}]))", "ops", [(None, "blue")]), 6, 4)
    L.add(stat("Events consumed / s", "Events handled by consumers (all outcomes).",
               f"sum(rate(consumer_events_total{{{sel}}}[{RATE}]))", "ops", [(None, "blue")]), 6, 4)

    L.row("Write side: event store and outbox")
    L.add(timeseries("Events appended by type", "Events appended per second, by service and event type.",
                     [target(f"sum by (service, type) (rate(eventstore_events_appended_total{{{sel}}}[{RATE}]))",
                             "{{service}} {{type}}")], "ops", stack=True), 12, 8)
    L.add(timeseries("Outbox published by topic", "Events the relay published to Kafka per second, by service and topic.",
                     [target(f"sum by (service, topic) (rate(outbox_events_published_total{{{sel}}}[{RATE}]))",
                             "{{service}} → {{topic}}")], "ops", stack=True), 12, 8)
    L.add(timeseries("Outbox backlog by service",
                     "Unpublished events per service. Every replica reports the same database-wide count, so the "
                     "panel shows the maximum, not the sum.",
                     [target(f"max by (service) (outbox_unpublished_events{{{sel}}})", "{{service}}")],
                     "short", thresholds=[(None, "green"), (100, "orange"), (1000, "red")]), 12, 8)
    L.add(timeseries("Appended minus published", "Per service: events appended per second minus events published "
                     "per second. Positive for long means the relay falls behind.",
                     [target(f"sum by (service) (rate(eventstore_events_appended_total{{{sel}}}[{RATE}])) "
                             f"- sum by (service) (rate(outbox_events_published_total{{{sel}}}[{RATE}]))",
                             "{{service}}")], "ops"), 12, 8)

    L.row("Read side: consumers and dead letters")
    L.add(timeseries("Consume rate", "Events handled successfully per second, by service, consumer group and topic.",
                     [target(f'sum by (service, group, topic) (rate(consumer_events_total{{{sel}, outcome="ok"}}[{RATE}]))',
                             "{{service}} {{group}} ← {{topic}}")], "ops", stack=True), 12, 8)
    L.add(timeseries("Consumer outcomes other than ok", "Events per second that did not end in ok (e.g. dead_lettered).",
                     [target(f'sum by (service, group, topic, outcome) (rate(consumer_events_total{{{sel}, outcome!="ok"}}[{RATE}]))',
                             "{{service}} {{group}} ← {{topic}}: {{outcome}}")], "ops",
                     thresholds=[(None, "green"), (0.001, "red")]), 12, 8)
    L.add(timeseries("Dead letters", "Events parked on the dead-letter topic per 5 minutes, by consumer group and source topic.",
                     [target(f"sum by (service, group, topic) (increase(consumer_dead_letters_total{{{sel}}}[5m]))",
                             "{{service}} {{group}} ← {{topic}}")], "short",
                     thresholds=[(None, "green"), (1, "red")], bars=True), 12, 8)
    L.add(table("Dead letters over the time range", "Dead-lettered events per consumer group and source topic over the "
                "dashboard's time range; inspect them on <topic>.dlq.",
                [target(f"sum by (service, group, topic) (increase(consumer_dead_letters_total{{{sel}}}[$__range])) > 0",
                        "dead letters", "A", instant=True)], "short", "Value"), 12, 8)

    L.row("Webhooks and emails (notifications)")
    L.add(timeseries("Webhook attempts by outcome", "Attempts per second: success, gone (410), http_4xx, http_5xx, "
                     "timeout, connect_error, target_refused, ...",
                     [target(f"sum by (outcome) (rate(webhook_attempts_total{{}}[{RATE}]))", "{{outcome}}")],
                     "ops", stack=True), 8, 8)
    L.add(timeseries("Deliveries finished", "Deliveries reaching a final status per second: succeeded, exhausted "
                     "(all eight attempts failed), failed (endpoint gone, disabled or deleted).",
                     [target(f"sum by (outcome) (rate(webhook_deliveries_finished_total{{}}[{RATE}]))", "{{outcome}}")],
                     "ops", stack=True), 8, 8)
    L.add(timeseries("Queue depth and oldest pending", "Deliveries with an attempt to come (every replica reports "
                     "the same count: max) and the age of the oldest.",
                     [target("max(webhook_queue_depth{})", "queued"),
                      target("max(webhook_oldest_pending_age_seconds{})", "oldest pending (s)", "B")], "short"), 8, 8)
    L.add(timeseries("Attempt latency", "p50 / p99 of one attempt, resolution to answer.",
                     [target(f"histogram_quantile(0.5, sum by (le) (rate(webhook_attempt_duration_seconds_bucket{{}}[{RATE}])))", "p50"),
                      target(f"histogram_quantile(0.99, sum by (le) (rate(webhook_attempt_duration_seconds_bucket{{}}[{RATE}])))", "p99", "B")],
                     "s"), 8, 8)
    L.add(timeseries("Event to first attempt", "p50 / p99 from an event's time to its delivery's first attempt.",
                     [target(f"histogram_quantile(0.5, sum by (le) (rate(webhook_event_to_first_attempt_seconds_bucket{{}}[{RATE}])))", "p50"),
                      target(f"histogram_quantile(0.99, sum by (le) (rate(webhook_event_to_first_attempt_seconds_bucket{{}}[{RATE}])))", "p99", "B")],
                     "s"), 8, 8)
    L.add(timeseries("Endpoints disabled and emails", "Endpoints disabled per 5 minutes (gone, failing) and emails by "
                     "outcome (sent, retry, given_up).",
                     [target("sum by (reason) (increase(webhook_endpoints_disabled_total{}[5m]))", "disabled: {{reason}}"),
                      target("sum by (outcome) (increase(notification_emails_total{}[5m]))", "email {{outcome}}", "B")],
                     "short", bars=True), 8, 8)

    L.row("Kafka consumer lag (Strimzi Kafka Exporter)")
    L.add(timeseries("Lag by consumer group and topic", "Messages not yet consumed, summed over partitions. "
                     "Sustained growth with idle CPU: add replicas (up to the partition count); "
                     "with busy CPU: look at the handler.",
                     [target('sum by (consumergroup, topic) (kafka_consumergroup_lag{consumergroup=~"$group"})',
                             "{{consumergroup}} ← {{topic}}")], "short"), 12, 9)
    L.add(timeseries("Largest partition lag", "The most lagging partition per group and topic: a hot key or a stuck "
                     "consumer shows here before the sum moves.",
                     [target('max by (consumergroup, topic) (kafka_consumergroup_lag{consumergroup=~"$group"})',
                             "{{consumergroup}} ← {{topic}}")], "short"), 12, 9)

    return dashboard(
        "provider-platform-events", "Provider Platform / Events",
        "Event store appends, outbox relay backlog, consumer throughput, dead letters and Kafka consumer lag.",
        ["provider-platform", "kafka", "events"],
        [datasource_var(), service_var(), query_var("group", "Consumer group", "label_values(kafka_consumergroup_lag, consumergroup)")],
        L.panels,
        [{"title": "HTTP", "type": "link", "url": "/d/provider-platform-http",
          "keepTime": True, "includeVars": False, "asDropdown": False, "icon": "dashboard", "targetBlank": False}],
    )


DASHBOARDS = {
    "provider-platform-http.json": http_dashboard,
    "provider-platform-events.json": events_dashboard,
}


def render() -> dict[str, str]:
    return {name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n" for name, build in DASHBOARDS.items()}


def main(argv: list[str]) -> int:
    rendered = render()
    if "--check" in argv:
        stale = [n for n, text in rendered.items() if not (OUT / n).exists() or (OUT / n).read_text() != text]
        if stale:
            print("out of date (run python deploy/grafana/generate.py):", ", ".join(stale))
            return 1
        print("dashboards up to date")
        return 0
    OUT.mkdir(exist_ok=True)
    for name, text in rendered.items():
        (OUT / name).write_text(text)
        print("wrote", OUT / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
