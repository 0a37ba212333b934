"""citeqa service: settings, answering, HTTP API and chat page."""
