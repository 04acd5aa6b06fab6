"""Build step: compile the interface catalogs (.po -> .mo) into the package, so a wheel or a
plain `pip install .` serves every language it offers without `make`. Everything else about
the package is in pyproject.toml; setuptools reads this file only for the command below."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CATALOGS = "intervention/translations/*/LC_MESSAGES/messages.po"


class BuildPyWithCatalogs(build_py):
    """build_py, then each .po compiled beside it, as `pybabel compile` does (Babel is a
    build requirement). An editable install compiles into the source tree, where the package
    is read from."""

    def run(self):
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(Path().glob(CATALOGS)):
            base = Path() if self.editable_mode else Path(self.build_lib)
            mo = base / po.with_suffix(".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source, locale=po.parts[-3], abort_invalid=True)
            with mo.open("wb") as target:
                write_mo(target, catalog)


setup(cmdclass={"build_py": BuildPyWithCatalogs})
