"""What the OpenAPI schema cannot discover by itself: the error answers of each endpoint,
and the exact body of an options change, built from the option registry.

The option value schemas are sound: every value they allow, the server accepts (the API
fuzz test sends them). Where a format cannot be written as a pattern (a CRON range must
not run backwards, February has no 30th) the pattern shows the common forms and the
description says what else is accepted.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from console.serializers import ErrorSerializer
from gimmanager.options import INT_MAX, SECTIONS, Kind, OptionSpec, specs_of

# `<int:pk>` matches digits only: a negative id is not a URL of the API at all.
RUN_ID = OpenApiParameter("id", {"type": "integer", "minimum": 0}, OpenApiParameter.PATH, description="run number")
UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description="No token, or a token that is not valid.")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="Your role does not allow this.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="There is no run with this id.")
FIELD_ERRORS = OpenApiResponse(
    {"type": "object", "description": "{field: [messages]}; `detail` when the body is not JSON at all",
     "additionalProperties": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]}},
    description="Bad input: each refused field with its messages.")

_TIME_ZONE = {"$ref": "#/components/schemas/TimeZone"}
_M, _MS = r"[0-5]?[0-9]", r"([1-9]|[1-5][0-9])"  # a minute; a step in minutes
_H, _HS = r"([01]?[0-9]|2[0-3])", r"([1-9]|1[0-9]|2[0-3])"  # an hour; a step in hours


def _cron_field(n: str, step: str) -> str:
    return rf"(\*|\*/{step}|{n}/{step}|{n}(,{n})*)"


_DATE = (r"(19[7-9][0-9]|[2-9][0-9]{3})-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)"
         r"|(0[13578]|1[02])-31)")
_PATTERNS = {
    Kind.HHMM: r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
    Kind.DURATION: r"^(([01]?[0-9]|2[0-3]):[0-5][0-9]|24:00)$",
    Kind.CRON: rf"^{_cron_field(_M, _MS)} {_cron_field(_H, _HS)}$",
    Kind.DATETIME: rf"^({_DATE} ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?$",
    Kind.PATH: r"^[^\x00]*[^\x00\s][^\x00]*$",
    Kind.TEXT: r"^[^\x00]*$",
}
_MORE = {
    Kind.CRON: " Ranges (a-b, a <= b) are accepted too.",
    Kind.DATETIME: " Empty: from the start of the data. February 29 is accepted too.",
    Kind.ENCODING: " Any other encoding name Python knows is accepted too.",
}
_ENCODINGS = ["utf8", "utf-8", "utf-16", "latin1", "iso-8859-1", "cp1252", "ascii"]


def _value_schema(spec: OptionSpec) -> dict[str, Any]:
    text = f"{spec.help} ({spec.valid_values}; default {spec.default or 'empty'}).{_MORE.get(spec.kind, '')}"
    schema: dict[str, Any]
    if spec.kind is Kind.BOOL:
        schema = {"oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}]}
    elif spec.kind is Kind.INT:
        schema = {"type": "integer", "minimum": spec.minimum, "maximum": spec.maximum or INT_MAX}
    elif spec.kind is Kind.TIMEZONE:
        return {"allOf": [_TIME_ZONE], "description": text}
    elif spec.kind is Kind.ENCODING:
        schema = {"type": "string", "enum": _ENCODINGS}
    else:
        schema = {"type": "string", "pattern": _PATTERNS[spec.kind],
                  "maxLength": 1024 if spec.kind is Kind.PATH else 255}
    return {**schema, "description": text}


def options_change_schema() -> dict[str, Any]:
    return {
        "type": "object", "additionalProperties": False,
        "description": "Only the options to change, {section: {option: value}}, as in the Genesys INI file.",
        "properties": {
            section: {"type": "object", "additionalProperties": False,
                      "properties": {s.name: _value_schema(s) for s in specs_of(section)}}
            for section in SECTIONS},
    }


def add_components(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook: the options body and the zone list, once each."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["OptionsChange"] = options_change_schema()
    schemas["TimeZone"] = {"type": "string", "enum": sorted(zoneinfo.available_timezones()),
                           "description": "An IANA time-zone ID."}
    return result
