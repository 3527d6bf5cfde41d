"""Throughput and latency numbers for the platform, measured against its own local stack.

`python -m bench` (or `make bench`) starts a LocalStack on ports of its own, measures
the claims pipeline, raw Kafka / MongoDB baselines on the same servers and the
eligibility checks, prints a table and writes .local/bench-results.json. It reports
numbers and ratios only; it never asserts on timings.

Modules:
    profile      run lengths for the full and the --quick run
    stackctl     the bench's own LocalStack (ports, home, start, stop, pids)
    stats        latency histograms (HdrHistogram), CPU snapshots, Prometheus scraping
    lag          consumer-group lag of the services (work still queued in Kafka)
    context      what the parts share; settle() waits for an idle stack between parts
    load         closed-loop and open-loop (fixed timetable) load drivers
    claims       claims intake at rising concurrency and submit -> processed end to end
    baselines    aiokafka produce/consume and PyMongo inserts on the same servers
    eligibility  eligibility checks through the gateway and direct, plus MongoDB reads
    report       the printed table and the JSON file
"""
