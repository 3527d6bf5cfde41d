"""The printed tables and the ratios; the JSON file is results as they are."""

from __future__ import annotations

import json
from pathlib import Path

from bench import interactions


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}:{v}" for k, v in value.items()) or "0"
    return str(value)


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda parts: "  ".join(p.rjust(w) if i else p.ljust(w) for i, (p, w) in enumerate(zip(parts, widths)))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _lat(summary: dict | None) -> list:
    summary = summary or {}
    return [summary.get("p50_ms"), summary.get("p95_ms"), summary.get("p99_ms"), summary.get("max_ms")]


def _cores(cpu: dict | None, n: int = 3) -> str:
    if not cpu:
        return "-"
    wall = cpu["wall_s"] or 1
    top = ", ".join(f"{k} {v / wall:.2f}" for k, v in list(cpu["cpu_s"].items())[:n])
    return f"{top} | other {cpu['other_processes_cores']:.2f}"


def _lag(lag: dict | None) -> str:
    behind = {k: v for k, v in (lag or {}).items() if v}
    return ", ".join(f"{k} {v}" for k, v in behind.items()) or "0"


def _per(values: dict | None, n: int = 4) -> str:
    return ", ".join(f"{k} {v}" for k, v in list((values or {}).items())[:n]) or "-"


def _other(cpu: dict | None) -> str:
    return f"{cpu['other_processes_cores']:.2f} cores" if cpu else "-"


def ratio(a, b) -> float | None:
    return float(f"{a / b:.3g}") if a and b else None


def mongo_at(mongo: dict, concurrency: int | None) -> dict:
    runs = mongo.get("runs") or []
    if not runs:
        return {}
    if concurrency is None:
        return runs[-1]
    return min(runs, key=lambda r: abs(r["concurrency"] - concurrency))


def compute_ratios(results: dict) -> dict:
    claims = results.get("claims") or {}
    kafka = (results.get("baselines") or {}).get("kafka") or {}
    mongo = (results.get("baselines") or {}).get("mongo") or {}
    accepted = claims.get("best_accepted_per_s")
    best = claims.get("best_concurrency")
    e2e = (claims.get("end_to_end") or {}).get("processed_per_s")
    return {
        f"accepted claims/s (best, c={best}) / mongo inserts/s at c={mongo_at(mongo, best).get('concurrency')}":
            ratio(accepted, mongo_at(mongo, best).get("ok_per_s")),
        "accepted claims/s (best) / mongo inserts/s sequential": ratio(accepted, mongo_at(mongo, 1).get("ok_per_s")),
        "end-to-end processed claims/s / kafka produce+consume msgs/s": ratio(e2e, kafka.get("produce_and_consume_per_s")),
        "end-to-end processed claims/s / kafka send_and_wait one-by-one msgs/s":
            ratio(e2e, kafka.get("send_and_wait_one_by_one_per_s")),
    }  # fmt: skip


def render(results: dict) -> str:
    out: list[str] = []
    meta = results.get("meta", {})
    out.append(f"== Provider platform benchmark ({meta.get('profile')}) ==")
    out.append(f"machine: {meta.get('cpus')} CPUs; load average at start {meta.get('loadavg_start')}, at end "
               f"{meta.get('loadavg_end')}; kafka {meta.get('kafka')}, mongodb {meta.get('mongodb')}")  # fmt: skip
    out.append("Cores = CPU seconds / wall second per process ('other' = processes outside this stack and bench).")
    settles = dict(meta.get("settle_before", {}))
    if (results.get("claims") or {}).get("settle_before_end_to_end"):
        settles["claims end-to-end"] = results["claims"]["settle_before_end_to_end"]
    if settles:
        out.append("idle before each part (stack cores after waiting): " + "; ".join(
            f"{k} {v['stack_cores']} after {v['waited_s']}s{'' if v['settled'] else ' (still busy: ' + v['busiest'] + ')'}"
            + (f", lag {_lag(v.get('consumer_group_lag'))}" if _lag(v.get("consumer_group_lag")) != "0" else "")
            for k, v in settles.items()))  # fmt: skip

    claims = results.get("claims")
    if claims:
        out.append("\n-- Claims intake: POST /v1/claims through the gateway, closed loop --")
        rows = []
        for lv in claims.get("levels", []):
            rows.append([lv["concurrency"], lv["ok"], lv["ok_per_s"], lv["errors"], *_lat(lv["latency"]),
                         lv["processed_per_s"], lv["unprocessed_after_drain"],
                         _lag(lv.get("consumer_group_lag_after_drain")),
                         (lv.get("collections_before") or {}).get("claims.events"),
                         _per(lv.get("cpu_ms_per_claim")), _other(lv.get("cpu"))])  # fmt: skip
        out.append(table(["concurrency", "accepted", "accepted/s", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms",
                          "processed/s", "unprocessed", "group lag after drain", "events before",
                          "CPU ms per accepted claim",
                          "other load"], rows))  # fmt: skip
        out.append("processed/s: this level's claims / (level start -> last of them processed); unprocessed: "
                   "not processed when the drain wait ended; group lag: messages the services' consumer groups "
                   "had not committed; events before: claims' event store size. CPU per claim includes "
                   "background work left over from earlier levels.")  # fmt: skip
        e2e = claims.get("end_to_end")
        if e2e:
            out.append(f"\n-- Claims end to end (full adjudication, the bench's claim mix): up to {e2e['claims_asked']} "
                       f"claims at concurrency {e2e['concurrency']}, submit -> final status seen on claims.events --")  # fmt: skip
            censored = e2e.get("submit_to_processed_with_censored") or {}
            out.append(table(
                ["accepted", "accepted/s", "final/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "final (of which pends)",
                 "not final", "p99 incl. not final", "errors", "CPU ms per final claim (stack total)"],
                [[e2e["accepted"], e2e["accepted_per_s"], e2e["processed_per_s"], *_lat(e2e["submit_to_processed"]),
                  f"{_fmt(e2e['decided'])} ({e2e.get('pended', 0)})", e2e["not_processed_in_time"],
                  f">={censored.get('p99_ms')}" if e2e["not_processed_in_time"] else censored.get("p99_ms"),
                  e2e["submit_errors"], e2e.get("cpu_ms_per_claim_stack_total")]],
            ))  # fmt: skip
            auto = e2e.get("auto_adjudication") or {}
            if auto:
                out.append(f"auto-adjudication rate (worker's adjudication_decisions_total over this phase): "
                           f"{auto.get('ratio')} of {auto.get('decisions')} decisions, by path {_fmt(auto.get('by_path'))}, "
                           f"by outcome {_fmt(auto.get('by_outcome'))}; the mix's expected {auto.get('expected_ratio_of_mix')}; "
                           f"worker gauge since start {auto.get('worker_gauge_since_start')}")  # fmt: skip
            out.append(f"mix sent: {_fmt(e2e.get('mix_sent'))}; outcomes other than the mix's expected: "
                       f"{_fmt(e2e.get('unexpected_outcomes'))}; decided without a pend: "
                       f"{e2e.get('decided_without_pend_per_s')}/s")  # fmt: skip
            out.append(f"CPU ms per final claim, every process: {_per(e2e.get('cpu_ms_per_claim'), 12)}")
            if e2e.get("ledgers_before"):
                out.append(f"policy ledgers (one document rewritten per decision) before / after the phase: "
                           f"{_fmt(e2e['ledgers_before'])} / {_fmt(e2e.get('ledgers_after'))}")  # fmt: skip
            out.append(f"consumer-group lag when the wait ended: {_lag(e2e.get('consumer_group_lag_after'))} "
                       "(messages the services' own consumers had not yet committed)")  # fmt: skip
        sizes = claims.get("claim_received_message_bytes")
        if sizes:
            out.append(f"claim.received on Kafka: {sizes}; stored event document: {claims.get('stored_event_bytes')} B (BSON)")
        if claims.get("first_error"):
            out.append(f"first rejected claim: {claims['first_error']}")

    baselines = results.get("baselines")
    if baselines:
        kafka = baselines.get("kafka") or {}
        mongo = baselines.get("mongo") or {}
        out.append("\n-- Baselines on the same servers --")
        rows = []
        if kafka:
            rows.append([f"kafka produce (idempotent, acks=all, windows of 500), {kafka['message_bytes']} B",
                         kafka["produce_per_s"], "-", _cores(kafka.get("produce_cpu"))])  # fmt: skip
            rows.append(["kafka consume (group-less, from offset 0)", kafka["consume_per_s"], "-", _cores(kafka.get("consume_cpu"))])
            rows.append(["kafka produce + consume, one message's trip", kafka["produce_and_consume_per_s"], "-", "-"])
            rows.append(["kafka send_and_wait one by one", kafka["send_and_wait_one_by_one_per_s"],
                         kafka["send_and_wait_latency"]["p50_ms"], "-"])  # fmt: skip
        for m in mongo.get("runs", []):
            rows.append([f"mongo insert_one c={m['concurrency']}, {mongo['document_bytes']} B stored event",
                         m["ok_per_s"], m["latency"]["p50_ms"], _cores(m.get("cpu"))])  # fmt: skip
        out.append(table(["operation", "per s", "p50 ms", "busiest (cores)"], rows))

    ratios = results.get("ratios") or {}
    if any(v is not None for v in ratios.values()):
        out.append("\n-- Ratios pipeline / baseline --")
        out.append(table(["ratio", "value", "1 in"], [[k, f"{v:.3g}" if v else "-", f"{1 / v:,.0f}" if v else "-"] for k, v in ratios.items()]))

    elig = results.get("eligibility")
    if elig and elig.get("runs"):
        out.append("\n-- Eligibility: POST /v1/eligibility/checks (2-3 procedure codes) --")
        rows = []
        for r in elig.get("runs", []):
            open_ = r["mode"] == "open"
            latency = r["latency_from_schedule"] if open_ else r["latency"]
            server = r.get("server") or {}
            rows.append([
                f"{r['mode']} {'@%g/s' % r['target_per_s'] if open_ else 'c=%d' % r['concurrency']}", r["target"],
                r["ok"], r["achieved_per_s"] if open_ else r["ok_per_s"], r["errors"],
                r.get("not_sent", "-") if open_ else "-", *_lat(latency),
                server.get("mean_ms"), (r.get("mongodb_commands_per_check") or {}).get("total"),
                _per(r.get("cpu_ms_per_check")), _other(r.get("cpu")),
            ])  # fmt: skip
        out.append(table(["run", "via", "ok", "checks/s", "errors", "not sent", "p50 ms", "p95 ms", "p99 ms", "max ms",
                          "server mean ms", "mongo cmds per check", "CPU ms per check", "other load"], rows))  # fmt: skip
        out.append("Each run is two interleaved halves per target (gateway, direct, direct, gateway). Open-loop "
                   "latency of answered checks counts from the scheduled send time; 'not sent': no free slot under "
                   "the in-flight cap before the window closed (the JSON has percentiles with these as lower "
                   "bounds); 'server mean': the service's own http_request_duration_seconds.")  # fmt: skip
        for r in elig.get("runs", []):
            commands = (r.get("mongodb_commands_per_check") or {}).get("by_command")
            if commands:
                out.append(f"mongodb commands per check, {r['mode']} {r['target']}: {_per(commands, 12)}")
        verdict = eligibility_target(elig)
        elig["target"] = verdict
        out.append(f"TARGET eligibility p99 <= {TARGET_P99_MS:g} ms at {TARGET_RATE:g} checks/s offered, open loop, "
                   f"through the gateway: {verdict['verdict']} ({verdict['why']})")
        share = gateway_share(elig)
        if share:
            elig["gateway_share"] = share
            out.append("gateway share (gateway minus direct): " + ", ".join(f"{k} {v} ms" for k, v in share.items()))
        micro = elig.get("mongo_micro")
        if micro:
            out.append(f"\nMongoDB work of one check (PyMongo, sequential; collections {micro.get('collections')}):")
            out.append(table(["query", "mean ms", "p50 ms", "p99 ms", "max ms"],
                             [[k, v["mean_ms"], v["p50_ms"], v["p99_ms"], v["max_ms"]] for k, v in micro["queries"].items()]))  # fmt: skip
            for probe in micro.get("scan_probe", []):
                out.append(f"scan probe, {probe['documents']} documents of {micro.get('scan_probe_document_bytes')} B: "
                           f"find by a non-_id field p50 "
                           f"{probe['by_field']['p50_ms']} ms, find_one by _id p50 {probe['by_id']['p50_ms']} ms")  # fmt: skip
            if micro.get("scan_probe_us_per_document_by_field") is not None:
                out.append(f"  -> growth per document in the collection: {micro['scan_probe_us_per_document_by_field']} us "
                           f"(non-_id filter), {micro['scan_probe_us_per_document_by_id']} us (_id point read)")  # fmt: skip
            for label, plan in (micro.get("scan_probe_explain") or {}).items():
                out.append(f"  plan {label}: {json.dumps(plan, default=str)[:240]}")
    out.extend(_claims_flow(results))
    out.extend(interactions.render(results))
    out.extend(_payments(results))
    out.extend(_targets(results))
    if results.get("error"):
        out.append(f"\n!! the run ended early: {results['error']}")
    return "\n".join(out)


def _claims_flow(results: dict) -> list[str]:
    out = []
    flow = results.get("claims_open")
    if flow:
        out.append(f"\n-- Claims at {flow['offered_per_s']:g}/s offered for {flow['window_s']:g}s (open loop), "
                   "submit -> final status seen on claims.events --")  # fmt: skip
        submit = flow["submit"]
        censored = flow.get("submit_to_final_with_censored") or {}
        out.append(table(
            ["accepted", "accepted/s", "final", "final/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "not final",
             "p99 incl. not final", "submit errors", "submit p99 ms", "CPU ms per claim"],
            [[flow["accepted"], submit["achieved_per_s"], flow["final"], flow["final_per_s"], *_lat(flow["submit_to_final"]),
              flow["not_final_in_time"], censored.get("p99_ms"), submit["errors"],
              (submit.get("latency_from_schedule") or {}).get("p99_ms"), _per(flow.get("cpu_ms_per_claim"), 6)]],
        ))  # fmt: skip
        commands = flow.get("mongodb_commands_per_claim") or {}
        if commands:
            out.append(f"MongoDB commands per accepted claim: {flow.get('mongodb_commands_per_claim_total')} in all; "
                       + ", ".join(f"{k} {v}" for k, v in list(commands.items())[:14]))  # fmt: skip
    growth = results.get("claims_growth")
    if growth and growth.get("steps"):
        out.append("\n-- Cost per claim as the stores grow (stores grown by cloning real claims' documents) --")
        out.append(f"documents per claim: {growth.get('documents_per_claim')}")
        rows = [[s["claims_stored"], s["seeding_s"], s["final"], s["final_per_s"], *_lat(s["submit_to_final"])[:3],
                 s.get("mongodb_commands_per_claim_total"), _per(s.get("cpu_ms_per_claim"), 6)] for s in growth["steps"]]  # fmt: skip
        out.append(table(["claims stored", "seeding s", "final", "final/s", "p50 ms", "p95 ms", "p99 ms",
                          "MongoDB commands per claim", "CPU ms per claim"], rows))  # fmt: skip
    hooks = results.get("notifications")
    if hooks:
        out.append(f"\n-- Webhooks ({hooks['event_type']} produced onto Kafka by the bench; receivers on loopback "
                   "verify every signature) --")
        rows = []
        if hooks.get("open_loop"):
            o = hooks["open_loop"]
            rows.append([f"open loop {o['offered_per_s']:g} events/s, 1 endpoint", o["events"], o["delivered"], "-",
                         *_lat(o["event_to_first_attempt"]), _per(o["cpu_ms_per_delivery"], 4)])
        if hooks.get("burst"):
            b = hooks["burst"]
            rows.append([f"burst {b['events']} events x {b['endpoints']} endpoints", b["events"], b["delivered"],
                         b["deliveries_per_s"], "-", "-", "-", "-", _per(b["cpu_ms_per_delivery"], 4)])
        out.append(table(["run", "events", "delivered", "deliveries/s", "p50 ms", "p95 ms", "p99 ms", "max ms",
                          "CPU ms per delivery"], rows))
        out.append("latency: the event's time (stamped before producing) -> the receiver's first request of its "
                   "webhook-id.")
    return out


def _payments(results: dict) -> list[str]:
    pay = results.get("payments")
    if not pay or not pay.get("run"):
        return []
    run = pay["run"]
    out = [f"\n-- Payments: {pay['accepted']} clean claims processed, then one payment run, then claim.paid --"]
    out.append(table(
        ["claims in run", "payments", "run s", "run claims/s", "processed/s", "paid", "not paid",
         "submit -> paid claims/s", "run done -> last paid s", "CPU ms per claim"],
        [[run.get("claims"), run.get("payments"), run.get("seconds"), run.get("run_claims_per_s"),
          pay.get("processed_per_s"), pay.get("paid"), pay.get("not_paid_in_time"), pay.get("end_to_end_paid_per_s"),
          pay.get("run_completed_to_last_paid_s"), _per(pay.get("cpu_ms_per_claim"), 6)]],
    ))  # fmt: skip
    out.append("run claims/s: the claims in the run (earlier parts' processed claims included) / the time "
               "POST /v1/admin/payment-runs took; submit -> paid: this part's claims / (first submission -> "
               "last claim.paid on claims.events), the run requested once all were processed.")
    return out


def _targets(results: dict) -> list[str]:
    rows = results.get("targets") or []
    if not rows:
        return []
    return ["\n-- Targets --", table(["target", "goal", "measured", "verdict"],
                                      [[r["target"], r["goal"], r["measured"], r["verdict"]] for r in rows])]


TARGET_P99_MS = 25.0
TARGET_RATE = 300.0


def eligibility_target(elig: dict) -> dict:
    """Met when the gateway's open-loop run at the target rate answered everything it was offered
    (no errors, nothing left unsent) with p99 from the scheduled send time within the target.
    Unsent and unfinished requests count in the percentile as lower bounds, so a saturated
    service cannot pass by dropping work."""
    run = next((r for r in elig.get("runs", []) if r["mode"] == "open" and r["target"] == "gateway"), None)
    if run is None:
        return {"verdict": "NOT MEASURED", "why": "no open-loop gateway run"}
    p99 = (run.get("latency_with_censored") or run.get("latency_from_schedule") or {}).get("p99_ms")
    problems = []
    if run["target_per_s"] < TARGET_RATE:
        problems.append(f"offered only {run['target_per_s']:g}/s")
    if run.get("errors"):
        problems.append(f"errors {run['errors']}")
    if run.get("not_sent"):
        problems.append(f"{run['not_sent']} not sent")
    if p99 is None or p99 > TARGET_P99_MS:
        problems.append(f"p99 {p99} ms")
    why = f"p99 {p99} ms at {run['achieved_per_s']}/s achieved of {run['target_per_s']:g}/s offered"
    return {"verdict": "not met" if problems else "met", "why": why if not problems else "; ".join(problems) + f"; {why}",
            "p99_ms": p99, "achieved_per_s": run["achieved_per_s"]}  # fmt: skip


def gateway_share(elig: dict) -> dict:
    runs = {(r["mode"], r["target"]): r for r in elig.get("runs", [])}
    share = {}
    for mode, key in (("closed", "latency"), ("open", "latency_from_schedule")):
        gw, direct = runs.get((mode, "gateway")), runs.get((mode, "direct"))
        if gw and direct and gw[key]["count"] and direct[key]["count"]:
            for stat in ("p50_ms", "mean_ms"):
                share[f"{mode} {stat[:-3]}"] = round(gw[key][stat] - direct[key][stat], 2)
            gw_cpu = gw.get("cpu_ms_per_check", {}).get("gateway")
            if gw_cpu is not None:
                share[f"{mode} gateway CPU per check"] = gw_cpu
    return share


def write(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
