"""The AI engine: DelPro simulator, features with 7-day history, mastitis risk model, rule baseline."""
