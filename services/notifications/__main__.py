from infra.http.app import serve
from services.notifications.main import build_app

app, runtime = build_app()
serve(app, runtime)
