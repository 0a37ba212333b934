"""ASGI middleware: body limits, trusted hosts and origins, error pages."""
