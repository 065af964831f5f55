"""The `dsr` command: operations and demos of the Dynamic Support Register."""
