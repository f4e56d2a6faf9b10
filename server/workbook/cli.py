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


@click.command("score", help="Score a KPI workbook offline and write the results into a copy.")
@click.argument("workbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Where to save (default: WORKBOOK-scored.xlsx beside it).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
              help="Language of explanations, statuses and messages "
                   "(default: the workbook's Language setting, else zh).")
def score(workbook: Path, out_path: Path | None, lang: str | None) -> None:
    # Imported here so `kpibook --help` works even while a layer is being rebuilt.
    import openpyxl

    from addin.headless import apply_actions, snapshot_from_xlsx
    from server.scoring.engine import score as score_input
    from server.scoring.model import ValidationError
    from server.workbook.contract import read_tables, to_score_input, workbook_language
    from server.workbook.render import score_plan, validation_message
    from server.xlwire.actions import plan_to_actions

    book = snapshot_from_xlsx(workbook)
    tables = read_tables(book)
    lang = lang or workbook_language(tables) or "zh"
    try:
        inp = to_score_input(tables, lang)
        result = score_input(inp, lang=lang)
    except ValidationError as exc:
        click.echo(validation_message(exc, lang), err=True)
        raise SystemExit(1) from None
    actions = plan_to_actions(book, score_plan(result, inp, tables, lang))
    wb = openpyxl.load_workbook(workbook)
    apply_actions(wb, actions)
    out_path = out_path or workbook.with_name(f"{workbook.stem}-scored.xlsx")
    wb.save(out_path)
    scored = sum(1 for e in result.employees if e.total is not None)
    click.echo(f"scored {scored}/{len(result.employees)} employees -> {out_path}")
