"""Read and write option values as a Genesys-style INI file.

    [schedule]
    etl-start-time = 06:30

Pure: text in, {section: {option: value}} out (and back). Unknown sections or
options are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import configparser

from gimmanager.options import BY_KEY, SECTIONS, Values, check_configuration, specs_of


class IniError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_ini(text: str, *, fill_defaults: bool = True) -> dict[str, dict[str, str]]:
    """Option values from INI text; every value is validated before anything is returned.

    With fill_defaults, options the file does not set take their Genesys default.
    Raises IniError listing every problem (option name and expected form).
    """
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",), comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep option names as written
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise IniError([f"not a valid INI file: {exc.message.splitlines()[0]}"]) from None
    problems: list[str] = []
    values: dict[str, dict[str, str]] = {}
    for section in parser.sections():
        if section not in SECTIONS:
            problems.append(f"[{section}]: unknown section; expected one of " + ", ".join(f"[{s}]" for s in SECTIONS))
            continue
        for name, raw in parser.items(section):
            spec = BY_KEY.get((section, name))
            if spec is None:
                problems.append(f"[{section}] {name}: unknown option")
                continue
            try:
                spec.parse(raw)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            values.setdefault(section, {})[name] = raw.strip()
    if problems:
        raise IniError(problems)
    if fill_defaults:
        for section in SECTIONS:
            for spec in specs_of(section):
                values.setdefault(section, {}).setdefault(spec.name, spec.default)
    return values


def render_ini(values: Values) -> str:
    lines: list[str] = []
    for section in SECTIONS:
        lines.append(f"[{section}]")
        for spec in specs_of(section):
            lines.append(f"{spec.name} = {values.get(section, {}).get(spec.name, spec.default)}")
        lines.append("")
    return "\n".join(lines)


def errors_of(values: Values) -> list[str]:
    """Configuration-check errors (not warnings) as text."""
    return [str(p) for p in check_configuration(values) if p.level == "error"]
