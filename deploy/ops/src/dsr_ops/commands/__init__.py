"""The `dsr` command's commands, a module per section; each adds its own to the app (`add_to`)."""
