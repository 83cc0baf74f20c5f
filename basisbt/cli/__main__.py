"""`python -m basisbt.cli` runs the command line."""
from basisbt.cli.app import main

main()
