"""Custom Rasa GraphComponents. config.yml names them by module path, e.g.
`bot.components.transformer_classifier.TransformerIntentClassifier`; importing this package
does not load torch."""
