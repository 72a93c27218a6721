"""Subcommands of the `headway` command line that sit above the pipeline layers (the CLI room).

`headway_assets.cli` builds the parser from its own commands, these modules, and whatever other
installed packages register under the `headway.commands` entry-point group (the read API does).
"""
