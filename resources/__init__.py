"""Shipped data, installed as the package ``engine.resources`` (see ``engine/shipped.py``).

``make_digits.py`` here made ``digits.npz`` once; the product never imports it.
"""
