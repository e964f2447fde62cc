# TalkinNeRF workflow: every video in the drop-in folder (plus the embedded demo subjects) becomes a subject;
# each stage is one rule that calls the `talkinnerf` CLI. See docs/contracts.md for the files each rule writes.
import json
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")

# Second layer of validation: every stage section must build its typed options dataclass (catches typos in
# keys that the JSON schema lets through) before any job runs.
from talkinnerf.config_check import check_stage_sections, setting_train_section  # noqa: E402

if workflow.is_main_process:    # a cluster job's own Snakemake (two per SLURM job) gets the checked config
    check_stage_sections(config)


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/experiments_common.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/animate_common.smk"
include: "workflow/rules/animate.smk"

# Seconds-long bookkeeping (splits, tables, figures, reports) runs beside Snakemake itself, not as cluster jobs:
# through SLURM each job costs ~15 s of submission, two Snakemake starts and polling (docs/cluster.md)
localrules:
    split, split_novel, split_view, left_out, demo_contact_sheet,
    report_quality, report_novel, report_preprocess,
    table1, table2, table3, table4, training_cost, fig7b, identity_bleed, orderings,
    figure_novel_pose, figure_cross_identity, figure_classes, figure_hands, figure_bleed, animation_report,


onstart:
    # through the SLURM profile: stop now, naming the nodes, when a partition cannot run jobs or accounting is
    # missing, instead of leaving jobs pending for ever (talkinnerf/cluster_check.py)
    if getattr(workflow.executor_plugin, "cli_prefix", "") == "slurm":
        from snakemake.exceptions import WorkflowError

        from talkinnerf.cluster_check import profile_partitions, slurm_problems

        _problems = slurm_problems(profile_partitions(workflow.resource_settings) or {"cpu"})
        if _problems:
            raise WorkflowError("the SLURM cluster cannot run this workflow's jobs:\n  " + "\n  ".join(_problems))


rule all:
    input:
        all_targets(),
    default_target: True
