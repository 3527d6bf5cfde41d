import logging
import sys

from infra.http.app import serve
from infra.logging import configure_logging
from services.identity.main import build_app
from services.identity.settings import IdentitySettings, UnsafeConfiguration

settings = IdentitySettings()
try:
    app, runtime = build_app(settings)
except UnsafeConfiguration as exc:
    configure_logging(settings.service_name, settings.log_level)
    # The message names the settings at fault, never a value.
    logging.getLogger("services.identity").critical(str(exc))
    sys.exit(78)  # EX_CONFIG
serve(app, runtime)
