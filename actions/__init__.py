"""Rasa actions for Shop Assistant. Kept thin: they call `shop.db` and `retrieval`."""
