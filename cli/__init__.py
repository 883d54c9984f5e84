"""The ``agnt5`` command line: one typer app per noun, composed in ``cli.main``."""
