"""Subcommands of the ``rtvoice`` command line, one module each (see rtvoice.cli.COMMAND_MODULES)."""
