"""The `kpibook` command line. Sub-commands live beside the code they drive."""

from __future__ import annotations

import click


@click.group(help="kpibook: KPI scoring for HR, in the Excel workbooks HR already uses.")
@click.version_option(package_name="kpibook")
def main() -> None:
    pass


if __name__ == "__main__":  # pragma: no cover
    main()
