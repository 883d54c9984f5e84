import logging, os
import myapp  # registers components
from agnt5.serverless import serve, ServerlessApp

# Module-level ASGI app (uvicorn serve_app:app)
app = serve(service_name="research-svc", service_version="0.0.1",
            signing_secret=os.environ.get("AGNT5_SIGNING_SECRET"),
            allow_unsigned=os.environ.get("ALLOW_UNSIGNED") == "1")

def create_app() -> ServerlessApp:   # for uvicorn --factory serve_app:create_app
    return app
