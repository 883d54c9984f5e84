"""The REST API: queries over the read model and the application's commands."""
