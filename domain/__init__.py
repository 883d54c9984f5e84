"""The domain of agnt5-evals: aggregates, events, scorers, gates and the Application.

Nothing here imports a web framework, a CLI library or a database driver.
"""
