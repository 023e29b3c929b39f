"""gim_config export > gim.ini | gim_config import gim.ini [--merge] | gim_config check"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gimmanager.config.services import Changer, OptionsError, configuration_problems, export_ini, import_ini


class Command(BaseCommand):
    help = "Export, import or check the Genesys Info Mart options as an INI file."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("export", help="write every option as INI to standard output")
        imp = sub.add_parser("import", help="validate a file, then apply all of it or nothing")
        imp.add_argument("file", help="INI file, or - for standard input")
        imp.add_argument("--merge", action="store_true",
                         help="keep current values of options the file does not set (default: reset them "
                              "to their Genesys default)")
        sub.add_parser("check", help="run the configuration check; exit 1 on errors")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "export":
            self.stdout.write(export_ini(), ending="")
        elif opts["action"] == "import":
            text = sys.stdin.read() if opts["file"] == "-" else self._read(opts["file"])
            try:
                changes = import_ini(text, by=Changer(label=f"gim_config import ({getpass.getuser()})",
                                                      via="import"), merge=opts["merge"])
            except OptionsError as exc:
                raise CommandError("nothing was changed:\n" + "\n".join(
                    f"  {k}: {v}" for k, v in exc.errors.items())) from None
            for c in changes:
                self.stdout.write(f"{c}")
            self.stdout.write(f"{len(changes)} option(s) changed")
            self._report_check()
        else:
            if self._report_check():
                raise CommandError("the configuration check found errors")

    def _read(self, path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None

    def _report_check(self) -> bool:
        problems = configuration_problems()
        for p in problems:
            self.stdout.write(f"{p.level.upper()}: {p}")
        if not problems:
            self.stdout.write("configuration check: no problems")
        return any(p.level == "error" for p in problems)
