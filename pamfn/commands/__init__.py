"""Subcommands of the pamfn CLI, one module each (see pamfn/cli.py)."""
