"""Validate every stage section of a workflow config against its typed options dataclass.

The JSON schema (workflow/schemas) checks the workflow's own keys; the stage sections are checked here so a typo
in, say, `fit.iterations_stage2` fails before any job starts instead of minutes later inside the job.
"""

from __future__ import annotations

import importlib
from typing import Any

from talkinnerf.options import from_dict

# config section -> "module:DataclassName"
STAGE_OPTIONS = {
    "demo_render": "talkinnerf.demo.options:SynthesizeOptions",
    "decode": "talkinnerf.video.decode:DecodeOptions",
    "matte": "talkinnerf.preprocess.matte:MatteOptions",
    "keypoints": "talkinnerf.preprocess.keypoints:KeypointOptions",
    "fit": "talkinnerf.preprocess.fit:FitOptions",
    "segment": "talkinnerf.preprocess.segment:SegmentOptions",
    "split": "talkinnerf.preprocess.split:SplitOptions",
    "train": "talkinnerf.train.trainer:TrainConfig",
    "finetune": "talkinnerf.train.finetune:FinetuneConfig",
    "evaluate": "talkinnerf.evaluate.render_eval:EvalConfig",
    "animation": "talkinnerf.evaluate.animate:AnimateConfig",
    "turntable": "talkinnerf.evaluate.turntable:TurntableConfig",
    "mesh": "talkinnerf.mesh.export:MeshConfig",
}


def options_class(section: str) -> type:
    module_name, class_name = STAGE_OPTIONS[section].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def setting_train_section(config: dict[str, Any], setting: str) -> dict[str, Any]:
    """The `train` section with the model overrides of ``settings.<setting>`` applied."""
    train = dict(config.get("train") or {})
    train["model"] = {**(train.get("model") or {}), **(config["settings"][setting] or {})}
    return train


def check_stage_sections(config: dict[str, Any]) -> None:
    """Raise ValueError naming the section and key when a stage section does not fit its dataclass."""
    for section in STAGE_OPTIONS:
        from_dict(options_class(section), config.get(section) or {}, where=f"config section '{section}'")
    model_cls = options_class("train")
    for setting in config.get("settings") or {}:
        from_dict(model_cls, setting_train_section(config, setting), where=f"config settings.{setting}")
    demo_cls = options_class("demo_render")
    demo = config.get("demo") or {}
    if demo.get("decode"):
        from_dict(options_class("decode"), {**(config.get("decode") or {}), **demo["decode"]},
                  where="config section 'demo.decode'")
    if demo.get("matte"):
        from_dict(options_class("matte"), {**(config.get("matte") or {}), **demo["matte"]},
                  where="config section 'demo.matte'")
    for entry in list(demo.get("subjects") or []) + list(demo.get("novel") or []):
        fields = {k: v for k, v in entry.items() if k != "name"}
        from_dict(demo_cls, {**(config.get("demo_render") or {}), **fields}, where=f"demo subject {entry.get('name')}")
