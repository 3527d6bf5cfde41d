from services.adjudication.worker import build_worker, serve

app, _runtime = build_worker()
# The worker's web server (port from settings) serves /healthz, /readyz, /metrics.
serve(app)
