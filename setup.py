"""Maps the repository's top-level folders onto the single import root ``coopetition``.

Declared here rather than in pyproject.toml because every sub-package below a mapped folder
must be listed by name; walking the folders keeps that list from going stale.
"""

from pathlib import Path

from setuptools import setup

ROOTS = {
    "coopetition": "cli",
    "coopetition.engine": "engine",
    "coopetition.transports": "transports",
    "coopetition.protocols": "protocols",
    "coopetition.sims": "sims",
}


def _packages() -> list[str]:
    found = []
    for package, folder in ROOTS.items():
        base = Path(folder)
        for init in sorted(base.rglob("__init__.py")):
            relative = init.parent.relative_to(base).parts
            found.append(".".join((package, *relative)))
    return found


setup(packages=_packages(), package_dir=ROOTS)
