"""Answerers turn retrieved passages into a cited answer. `factory.create` picks one by name."""
