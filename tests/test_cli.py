from click.testing import CliRunner

from server.cli import main


def test_cli_lists_its_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    assert "kpibook" in result.output
