from composer.cli.main import entry

entry()
