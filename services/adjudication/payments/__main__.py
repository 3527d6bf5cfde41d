from infra.http.app import serve
from services.adjudication.payments.main import build_app

app, runtime = build_app()
serve(app, runtime)
