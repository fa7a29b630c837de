"""Every extension, created once here; create_app() calls each init_app, and each keeps its
per-app state in app.extensions (so two apps in one process never share any)."""
from flask_cors import CORS
from flask_migrate import Migrate
from flask_sock import Sock

from .answer_cache import ProviderAnswers
from .auth import ApiKeyAuth
from .crypto import SecretKeys
from .database import db
from .logs import RequestLog
from .openai_adapter import OpenAIAdapter
from .ratelimit import RateLimits
from .request_limits import RequestLimits
from .request_metrics import RequestMetrics
from .spec import DeferredDocApi, SharedStatusesPlugin

__all__ = ["api", "api_keys", "cors", "db", "migrate", "openai_adapter", "provider_answers", "rate_limits",
           "request_limits", "request_log", "request_metrics", "secret_keys", "sock"]

migrate = Migrate()
api = DeferredDocApi(spec_kwargs={"extra_plugins": [SharedStatusesPlugin()]})
# No catch-all `default` response: each operation lists its statuses (spec.py adds the shared ones).
api.DEFAULT_ERROR_RESPONSE_NAME = None
cors = CORS()
secret_keys = SecretKeys()
openai_adapter = OpenAIAdapter()
provider_answers = ProviderAnswers()
request_log = RequestLog()
rate_limits = RateLimits()
api_keys = ApiKeyAuth()
request_metrics = RequestMetrics()
request_limits = RequestLimits()
# WebSocket routes (the Responses API's WebSocket mode), on blueprints: it needs no init_app
sock = Sock()
