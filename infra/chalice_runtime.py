"""`chalice`, building for one pinned Lambda runtime whatever Python runs it.

chalice takes the Lambda runtime from the Python that runs it (3.11 here, which Lambda no
longer accepts for new functions) and fetches compiled wheels (cffi) for that runtime's
ABI, without telling pip the Python version, so pip only finds wheels for the running one.
Both are fixed here, so a package is the same whoever builds it:

    python -m infra.chalice_runtime python3.13 package --stage prod OUT
"""
from __future__ import annotations

import sys

import chalice.config
from chalice.deploy import packager


def pin(runtime: str) -> None:
    """Make chalice package for `runtime` (e.g. python3.13)."""
    chalice.config.Config.lambda_python_version = property(lambda self: runtime)
    original = packager.PipRunner.download_manylinux_wheels
    if getattr(original, "pinned", False):
        return

    def download_manylinux_wheels(self, abi, packages, directory, platforms=None):
        execute = self._execute
        version = f"{abi[2]}.{abi[3:]}"  # cp313 → 3.13

        def with_python_version(command, args, *rest, **options):
            if command == "download" and "--abi" in args:
                args = ["--python-version", version, *args]
            return execute(command, args, *rest, **options)

        self._execute = with_python_version
        try:
            return original(self, abi, packages, directory, platforms)
        finally:
            del self._execute

    download_manylinux_wheels.pinned = True
    packager.PipRunner.download_manylinux_wheels = download_manylinux_wheels


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pin(argv.pop(0))
    from chalice.cli import main as chalice_main
    sys.argv = ["chalice", *argv]
    return chalice_main()


if __name__ == "__main__":
    sys.exit(main())
