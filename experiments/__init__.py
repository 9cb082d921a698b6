"""The example experiments, installed as the package ``engine.examples`` (see ``engine/shipped.py``).

Each ``*.json`` here is an experiment file: open it in the app (File ▸ Open) or train it with
``gradient-workbench run``.
"""
