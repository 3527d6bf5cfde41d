import sys

from services.adjudication.worker import build_worker

app, runtime = build_worker()
# faust parses its own command line; the worker's web server serves /healthz, /readyz, /metrics.
sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--web-port", str(runtime.settings.port)]
app.main()
