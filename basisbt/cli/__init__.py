"""The `basisbt` command line: typer and rich live here and nowhere else (app.py holds the commands)."""
