"""`kpibook templates build` and `kpibook score WORKBOOK.xlsx`: the workbook side, offline."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "workbook_templates"


@click.group(help="The shipped KPI workbook templates.")
def templates() -> None:
    pass


@templates.command("build", help="Generate the template workbooks from code.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_TEMPLATE_DIR, show_default=True, help="Directory to write to.")
def build(out_dir: Path) -> None:
    from server.workbook.templates import write_templates

    for path in write_templates(out_dir):
        click.echo(f"wrote {path}")
