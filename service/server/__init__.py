"""The HTTP server: app, middleware, dependencies, routes, streaming, workers, static files."""
