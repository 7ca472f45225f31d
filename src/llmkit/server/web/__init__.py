"""The browser page's static files (HTML, CSS, ES modules), served by ``llmkit.server.routes.web``."""
