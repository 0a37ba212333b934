"""The store seam (base.py), the one place that picks a backend (factory.py), and the backends."""
