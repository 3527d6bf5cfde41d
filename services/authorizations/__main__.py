from infra.http.app import serve
from services.authorizations.main import build_app

app, runtime = build_app()
serve(app, runtime)
