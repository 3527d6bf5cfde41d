from infra.http.app import serve
from services.claims.main import build_app

app, runtime = build_app()
serve(app, runtime)
