"""YAML for CloudFormation templates: reads the short-form intrinsics (``!Ref``, ``!Sub``, ``!GetAtt`` ...) as
their long form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``). Standard library and PyYAML only, so that both the
infrastructure tools' venv (sam_translate.py) and the library's tests can import it.
"""

from __future__ import annotations

from typing import Any

import yaml


def cfn_loader() -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "GetAtt" and isinstance(value, str):
            return {"Fn::GetAtt": value.split(".", 1)}
        return {f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", construct)
    return Loader
