"""Translates a SAM template to plain CloudFormation offline, with aws-sam-translator (no AWS account).

Run it with the infrastructure tools' interpreter (``.venv-infra/bin/python``, see scripts/ci-infra.sh), never
the library's: the translator pins pydantic versions that conflict with ours.

Usage: ``python infra/sam_translate.py IN.json|IN.yaml OUT.json [Name=Value ...]``. Function code must be an
``s3://bucket/key`` CodeUri (packaging local code is ``sam package``'s job, not the translator's).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from cfn_yaml import cfn_loader  # beside this file: python puts the script's folder on sys.path
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator


def translate(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Returns the CloudFormation template the SAM transform would produce (region: $AWS_DEFAULT_REGION)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    translated: dict[str, Any] = Translator(managed_policy_map={}, sam_parser=Parser()).translate(
        template, parameter_values=parameters, get_managed_policy_map=dict
    )
    return translated


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    text = Path(argv[0]).read_text(encoding="utf-8")
    template = yaml.load(text, Loader=cfn_loader())
    parameters = dict(item.split("=", 1) for item in argv[2:])
    Path(argv[1]).write_text(json.dumps(translate(template, parameters), indent=2, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
