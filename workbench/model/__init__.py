"""The application's Qt-free state: what the window shows, kept apart from how it shows it.

Nothing here imports Qt (an import-linter contract in pyproject.toml enforces it), so the
history, undo/redo, live settings, the runs list and the saved layout are tested without a
window and shared with the CLI.
"""
