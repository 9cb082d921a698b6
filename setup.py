"""What pyproject.toml cannot say: two top-level folders shipped as sub-packages of ``engine``.

``resources/`` (the digits data, the experiment schema) becomes ``engine.resources`` and
``experiments/`` (the examples) ``engine.examples``, so a wheel carries them inside the package
and ``engine.shipped`` reads them through importlib.resources, installed or editable alike.
"""

from setuptools import find_packages, setup

SHIPPED = {"engine.resources": "resources", "engine.examples": "experiments"}

setup(
    packages=[*find_packages(include=["engine", "engine.*", "workbench", "workbench.*"]), *SHIPPED],
    package_dir=SHIPPED,
)
