"""Gradient Workbench: the desktop app, the experiment files and the command line."""

__version__ = "0.1.0"
