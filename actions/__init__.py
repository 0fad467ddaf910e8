"""Rasa actions for Shop Assistant. Kept thin: they read the conversation, ask the services of
`retrieval.services.ServiceRegistry` and phrase the reply."""

from actions.common import preload_in_action_server

preload_in_action_server()
