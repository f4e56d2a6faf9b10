"""The `kpibook` command line. Sub-commands live beside the code they drive."""

from __future__ import annotations

import click

from server import commands as server_commands
from server import demo as server_demo
from server.workbook import cli as workbook_cli


@click.group(help="kpibook: KPI scoring for HR, in the Excel workbooks HR already uses.")
@click.version_option(package_name="kpibook")
def main() -> None:
    pass


main.add_command(workbook_cli.templates)
main.add_command(workbook_cli.score)
for _command in (*server_commands.COMMANDS, server_demo.demo):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
