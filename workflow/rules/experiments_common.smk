# Settings, paths and helpers of experiments.smk (its rules stay there: `snakemake --lint` wants rules and
# functions in separate files). Read from config.yaml's `experiments` section; docs/experiments.md.

import copy
import os


from talkinnerf.options import from_dict as _from_dict
from talkinnerf.train.trainer import TrainConfig as _TrainConfig

EXP = config.get("experiments") or {}
_TRAIN = config.get("train") or {}
_ITERATIONS = int(_TRAIN.get("iterations") or _TrainConfig().iterations)
# step schedules of the model (absolute steps) that an experiment with a smaller budget shrinks in proportion
SCHEDULE_KEYS = ("nr_kick_in", "nr_full_band", "pose_refine_kick_in", "hand_def_kick_in", "hand_def_full_band",
                 "hands_kick_in")


def _train_section(model_overrides, iterations, scale_schedule=False):
    """The `train` section with model overrides and an iteration budget, as validated JSON."""
    train = copy.deepcopy(dict(_TRAIN))
    model = {**(train.get("model") or {}), **(model_overrides or {})}
    iterations = int(iterations or _ITERATIONS)
    if scale_schedule and iterations != _ITERATIONS:
        full = _from_dict(TrainConfig_, {"model": model}, where="experiments").model
        for key in SCHEDULE_KEYS:
            model[key] = int(round(getattr(full, key) * iterations / _ITERATIONS))
    train.update(model=model, iterations=iterations)
    _from_dict(TrainConfig_, train, where="config experiments")
    return json.dumps(train, sort_keys=True)


TrainConfig_ = _TrainConfig
from talkinnerf.evaluate.lipsync import LipsyncConfig as _LipsyncConfig  # noqa: E402
from talkinnerf.preprocess.split import SplitOptions as _SplitOptions, describe_split as _describe_split  # noqa: E402

_from_dict(_LipsyncConfig, EXP.get("lipsync") or {}, where="config experiments.lipsync")
MULTI = SETTINGS[0]                       # the multi-identity TalkinNeRF
_single = EXP.get("single_id") or {}
_baseline = EXP.get("baseline") or {}
_ablations = EXP.get("ablations") or {}
_novel = EXP.get("novel") or {}
ABLATION_SUBJECT = _ablations.get("subject") or TRAIN_SUBJECTS[0]
if ABLATION_SUBJECT not in TRAIN_SUBJECTS:
    raise ValueError(f"experiments.ablations.subject {ABLATION_SUBJECT!r} is not a training subject {TRAIN_SUBJECTS}")
ABLATION_VARIANTS = dict(_ablations.get("variants") or {"complete": {}})
if "complete" not in ABLATION_VARIANTS:
    raise ValueError("experiments.ablations.variants needs 'complete' (the full model at the ablation budget)")
HAND_ABLATIONS = [v for v in ("no_hand_deformation", "no_hand_background", "separate_hands",
                              "hand_joints_in_canonical") if v in ABLATION_VARIANTS]

# single-subject models: name -> (train options JSON, subjects it is trained for)
SINGLE_MODELS = {
    "single_id": (_train_section(config["settings"][MULTI], _single.get("iterations")), TRAIN_SUBJECTS),
    "humannerf": (_train_section(_baseline.get("model") or {"baseline": "humannerf"}, _baseline.get("iterations")),
                  TRAIN_SUBJECTS),
}
for _name, _overrides in ABLATION_VARIANTS.items():
    SINGLE_MODELS[f"ablation_{_name}"] = (
        _train_section({**(config["settings"][MULTI] or {}), **(_overrides or {})}, _ablations.get("iterations"),
                       bool(_ablations.get("scale_schedule", True))),
        [ABLATION_SUBJECT])
# HumanNeRF trained from scratch on a novel identity's first N seconds (Fig. 7b's reference curve)
# (experiments.novel.baseline_iterations; null: exactly Table 3's HumanNeRF training, the single-identity budget)
CLIP_OPTIONS = (_train_section(_baseline.get("model") or {"baseline": "humannerf"}, _novel["baseline_iterations"],
                               scale_schedule=True) if _novel.get("baseline_iterations")
                else SINGLE_MODELS["humannerf"][0])
NOVEL_SECONDS = sorted(set(int(s) for s in (_novel.get("seconds") or []) + FINETUNE_SECONDS))
LONGEST_CLIP = max(NOVEL_SECONDS) if NOVEL_SECONDS else 0
# ------------------------------------------------------------------------------------------ seeds and splits
# Every cell of Tables 1-3, §3.3 and Fig. 7b is the mean over `experiments.seeds` (train.seed / finetune.seed of
# each run) ± the seeds' spread; Tables 1-3 and §3.3 are reported on every split of `experiments.splits`, in
# order (the first is the primary). A split `split: main` is the main job's (`split:` section, results/splits/);
# any other is written into a view, results/views/<name>/ (its splits/ + links to the subjects' data), that its
# runs train and evaluate on (--data-root). The run (main split, train.seed) is the main job's and the models of
# the paths before seeds (models/<setting>, models/single/..., models/clip/..., models/novel/...); every other
# run lives under models/runs/<split>/seed<k>/ (and eval/runs/...; Fig. 7b's: runs/novel/seed<k>/).
DEFAULT_SEED = int(_TRAIN.get("seed", _TrainConfig().seed))
SEEDS = [int(s) for s in (EXP.get("seeds") or [DEFAULT_SEED])]
if len(set(SEEDS)) != len(SEEDS):
    raise ValueError(f"experiments.seeds has duplicates: {SEEDS}")
TABLE3_MODELS = ("humannerf", "single_id", "multi_id")     # Table 3's rows, in the paper's order
SPLIT_TABLES = ("table1", "table2", "table3")
SPLITS = {}
for _name, _entry in (EXP.get("splits") or {"main": {"split": "main"}}).items():
    _entry = dict(_entry or {})
    _split = _entry.get("split", "main")
    if _name in ("novel", "runs") or not re.fullmatch("[A-Za-z0-9_]+", _name):
        raise ValueError(f"experiments.splits: {_name!r} is not a usable split name (letters, digits, _; not novel)")
    if _split != "main":
        _from_dict(_SplitOptions, _split, where=f"config experiments.splits.{_name}.split")
    _bad = [t for t in _entry.get("tables") or [] if t not in SPLIT_TABLES]
    _bad += [r for r in _entry.get("rows") or [] if r not in TABLE3_MODELS]
    if _bad:
        raise ValueError(f"experiments.splits.{_name}: unknown tables/rows {_bad} (tables: {SPLIT_TABLES}, "
                         f"rows: {TABLE3_MODELS})")
    SPLITS[_name] = {"split": None if _split == "main" else dict(_split),
                     "tables": list(_entry.get("tables") or SPLIT_TABLES),
                     "rows": [r for r in TABLE3_MODELS if r in (_entry.get("rows") or TABLE3_MODELS)]}
_mains = [n for n, v in SPLITS.items() if v["split"] is None]
if len(_mains) > 1:
    raise ValueError(f"experiments.splits: only one split can be the main job's (split: main), got {_mains}")
MAIN_SPLIT = _mains[0] if _mains else "main"
VIEW_SPLITS = [n for n, v in SPLITS.items() if v["split"] is not None]
if MAIN_SPLIT in VIEW_SPLITS:
    raise ValueError("experiments.splits: 'main' names the main job's split; give the other split another name")
PRIMARY_SPLIT = next(iter(SPLITS))


def splits_with(table):
    return [n for n, v in SPLITS.items() if table in v["tables"]]


def split_note(split):
    options = SPLITS[split]["split"] if split in SPLITS else None
    return _describe_split(_from_dict(_SplitOptions, options if options is not None else (config.get("split") or {}),
                                      where="split"))


SPLIT_NOTES = "; ".join(f"{n} = {split_note(n)}" for n in SPLITS)
SEED_NOTE = (f"mean ± spread (half the range) over seeds {', '.join(map(str, SEEDS))}" if len(SEEDS) > 1
             else f"one seed ({SEEDS[0]}): no spread")
# Experiment trainings run on the multi-identity model's world size (same rays per iteration, same device count)
# unless experiments.train_gpus says otherwise; the tables state what each got (meta.json).
EXP_GPUS = int(EXP["train_gpus"]) if EXP.get("train_gpus") is not None else TRAIN_GPUS
EXP_LAUNCHER = (f"{sys.executable} -m torch.distributed.run --standalone --nproc_per_node {EXP_GPUS} -m talkinnerf"
                if EXP_GPUS > 1 else PY)


def with_seed(options_json, seed):
    """A run's options: the seed set where it is not the main job's (whose options stay as they are)."""
    if int(seed) == DEFAULT_SEED:
        return options_json
    return json.dumps({**json.loads(options_json), "seed": int(seed)}, sort_keys=True)


def is_default_run(split, seed):
    return split == MAIN_SPLIT and int(seed) == DEFAULT_SEED


def data_root(split):
    return R if split == MAIN_SPLIT else f"{R}/views/{split}"


def run_data(split, subject):
    """What a run on ``split`` reads of a subject (the view's split instead of the main one)."""
    data = subject_data(subject)
    if split != MAIN_SPLIT:
        data["split"] = f"{data_root(split)}/splits/{subject}.json"
    return list(data.values())


def run_training_inputs(split, subjects):
    return [p for s in subjects for p in run_data(split, s)]


def multi_model(split, seed):
    return f"{R}/models/{MULTI}" if is_default_run(split, seed) else f"{R}/models/runs/{split}/seed{seed}/{MULTI}"


def multi_eval_run(split, seed, subject):
    return (multi_eval(MULTI, subject) if is_default_run(split, seed)
            else f"{R}/eval/runs/{split}/seed{seed}/{MULTI}/{subject}")


def single_model(model, subject, split, seed):
    return (f"{R}/models/single/{model}/{subject}" if is_default_run(split, seed)
            else f"{R}/models/runs/{split}/seed{seed}/single/{model}/{subject}")


def single_eval_run(model, subject, split, seed):
    return (single_eval(model, subject) if is_default_run(split, seed)
            else f"{R}/eval/runs/{split}/seed{seed}/single/{model}/{subject}")


def novel_model(subject, secs, seed):
    """The novel identity fine-tuned from the main split's multi-identity model of the same seed."""
    return (f"{R}/models/novel/{subject}_{secs}s" if int(seed) == DEFAULT_SEED
            else f"{R}/models/runs/novel/seed{seed}/{subject}_{secs}s")


def novel_eval(subject, secs, seed):
    return (f"{R}/eval/novel_{secs}s/{subject}" if int(seed) == DEFAULT_SEED
            else f"{R}/eval/runs/novel/seed{seed}/novel_{secs}s/{subject}")


def clip_model(subject, secs, seed):
    return (f"{R}/models/clip/{subject}_{secs}s" if int(seed) == DEFAULT_SEED
            else f"{R}/models/runs/novel/seed{seed}/clip/{subject}_{secs}s")


def clip_eval(subject, secs, seed):
    return (f"{R}/eval/clip_{secs}s/{subject}" if int(seed) == DEFAULT_SEED
            else f"{R}/eval/runs/novel/seed{seed}/clip_{secs}s/{subject}")


# cross-identity pairs: each training subject driven by the next one's poses, face and expressions
PAIRS = [(s, TRAIN_SUBJECTS[(i + 1) % len(TRAIN_SUBJECTS)]) for i, s in enumerate(TRAIN_SUBJECTS)] \
    if len(TRAIN_SUBJECTS) > 1 else []
LIPSYNC_METHODS = {"humannerf": "HumanNeRF", "single_id": "Ours (Single-Id)", "multi_id": "Ours (Multi-Id)"}


wildcard_constraints:
    model="|".join(re.escape(m) for m in SINGLE_MODELS),
    method="|".join(LIPSYNC_METHODS),
    driver="[A-Za-z0-9_.-]+",
    split="|".join(re.escape(n) for n in dict.fromkeys([MAIN_SPLIT, *VIEW_SPLITS])),
    seed="[0-9]+",


def single_eval(model, subject):
    return f"{R}/eval/single/{model}/{subject}"


def multi_eval(setting, subject):
    return f"{R}/eval/{setting}/{subject}"


def animation_path(method, subject, driver):
    if method == "multi_id":
        return f"{R}/animate/{MULTI}/{subject}_as_{driver}.mp4"
    return f"{R}/animate/single/{method}/{subject}_as_{driver}.mp4"


T = f"{R}/tables"
F = f"{R}/figures"
CAPTIONS = "../report"
TABLE1_LABELS = {"no_hand_deformation": "W/o hand deformation field", "no_hand_background": "W/o background for hands",
                 "separate_hands": "Separate left and right hands",
                 "hand_joints_in_canonical": "Hand joints in canonical space", "complete": "Complete Approach"}


def _entry(label, paths):
    return f"--entry '{label}=" + ",".join(paths) + "'"


def _metrics(folder):
    return f"{folder}/metrics.csv"


TABLE3_LABELS = {"humannerf": "HumanNeRF", "single_id": "Ours (Single-Id)", "multi_id": "Ours (Multi-Id)"}


def _cell_args(cells):
    """--cell (metrics) and --meta (the first seed's meta.json) arguments of (split, seed, label, csvs, metas)."""
    args = [f"--cell '{sp}|{seed}|{label}=" + ",".join(csvs) + "'" for sp, seed, label, csvs, _ in cells]
    args += [f"--meta '{sp}|{seed}|{label}=" + ",".join(metas) + "'" for sp, seed, label, _, metas in cells
             if seed == SEEDS[0] and metas]
    return " ".join(args)


def _cell_inputs(cells):
    return [p for _split, seed, _label, csvs, metas in cells for p in csvs + (metas if seed == SEEDS[0] else [])]


def _ablation_cells(split, variants, labels):
    return [(split, seed, labels[v], [_metrics(single_eval_run(f"ablation_{v}", ABLATION_SUBJECT, split, seed))],
             [f"{single_model(f'ablation_{v}', ABLATION_SUBJECT, split, seed)}/meta.json"])
            for v in variants for seed in SEEDS]


def _table3_cells(split, row, seed):
    if row == "multi_id":
        return ([_metrics(multi_eval_run(split, seed, s)) for s in TRAIN_SUBJECTS],
                [f"{multi_model(split, seed)}/meta.json"])
    return ([_metrics(single_eval_run(row, s, split, seed)) for s in TRAIN_SUBJECTS],
            [f"{single_model(row, s, split, seed)}/meta.json" for s in TRAIN_SUBJECTS])


TABLE2_LABELS = {"no_jaw": "W/o jaw for the face", "complete": "Complete Approach"}
# rows of (split, seed, label, metrics.csv files pooled into the seed's value, meta.json files of its models)
TABLE1_CELLS = [c for split in splits_with("table1")
                for c in _ablation_cells(split, HAND_ABLATIONS + ["complete"], TABLE1_LABELS)]
TABLE2_CELLS = [c for split in splits_with("table2")
                for c in _ablation_cells(split, [v for v in TABLE2_LABELS if v in ABLATION_VARIANTS], TABLE2_LABELS)]
TABLE3_CELLS = [(split, seed, TABLE3_LABELS[row], *_table3_cells(split, row, seed))
                for split in splits_with("table3") for row in SPLITS[split]["rows"] for seed in SEEDS]
TABLE4_ROWS = [(label, [f"{R}/eval/lipsync/{m}/{s}_as_{d}.csv" for s, d in PAIRS])
               for m, label in LIPSYNC_METHODS.items()] if PAIRS else []
FIG7B_CELLS = ([("novel", seed, f"TalkinNeRF fine-tuned@{secs}",
                  [_metrics(novel_eval(s, secs, seed)) for s in NOVEL_SUBJECTS],
                  [f"{multi_model(MAIN_SPLIT, seed)}/meta.json"]
                  + [f"{novel_model(s, secs, seed)}/meta.json" for s in NOVEL_SUBJECTS])
                 for secs in NOVEL_SECONDS for seed in SEEDS]
               + [("novel", seed, f"HumanNeRF from scratch@{secs}",
                   [_metrics(clip_eval(s, secs, seed)) for s in NOVEL_SUBJECTS],
                   [f"{clip_model(s, secs, seed)}/meta.json" for s in NOVEL_SUBJECTS])
                  for secs in NOVEL_SECONDS for seed in SEEDS]) if NOVEL_SUBJECTS else []
# §3.3: per split whose Table 3 has both TalkinNeRF rows, per seed: the multi-identity model and the single ones
COST_RUNS = [{"split": split, "seed": seed,
              "multi": {"meta": f"{multi_model(split, seed)}/meta.json",
                        "metrics": [_metrics(multi_eval_run(split, seed, s)) for s in TRAIN_SUBJECTS]},
              "single": [{"subject": s, "meta": f"{single_model('single_id', s, split, seed)}/meta.json",
                          "metrics": [_metrics(single_eval_run("single_id", s, split, seed))]} for s in TRAIN_SUBJECTS]}
             for split in splits_with("table3") if {"multi_id", "single_id"} <= set(SPLITS[split]["rows"])
             for seed in SEEDS]
COST_INPUTS = [p for r in COST_RUNS for p in [r["multi"]["meta"], *r["multi"]["metrics"]]
               + [q for e in r["single"] for q in (e["meta"], *e["metrics"])]]
# figures (one seed: a picture) on the first split that has the table
FIG_T3_SPLIT = (splits_with("table3") or [MAIN_SPLIT])[0]
FIG_T3_ROWS = SPLITS[FIG_T3_SPLIT]["rows"] if FIG_T3_SPLIT in SPLITS else list(TABLE3_MODELS)
FIG_ABL_SPLIT = (splits_with("table1") + splits_with("table2") or [MAIN_SPLIT])[0]
# identity bleed: the main split's multi- and single-identity models, every seed Table 3 trains there
BLEED_SEEDS = (SEEDS if {"multi_id", "single_id"} <= set(SPLITS.get(MAIN_SPLIT, {}).get("rows", []))
               and "table3" in SPLITS.get(MAIN_SPLIT, {}).get("tables", []) else [DEFAULT_SEED])


def fig_column(row, subject):
    """Fig. 4's eval folder of one row, on FIG_T3_SPLIT and the first seed."""
    if row == "multi_id":
        return multi_eval_run(FIG_T3_SPLIT, SEEDS[0], subject)
    return single_eval_run(row, subject, FIG_T3_SPLIT, SEEDS[0])


def ablation_eval(variant):
    return single_eval_run(f"ablation_{variant}", ABLATION_SUBJECT, FIG_ABL_SPLIT, SEEDS[0])


def _orderings_inputs():
    inputs = {"table1": f"{T}/table1_hands.csv", "table2": f"{T}/table2_face.csv",
              "table3": f"{T}/table3_novel_poses.csv", "cost": f"{T}/training_cost.csv"}
    if NOVEL_SUBJECTS and NOVEL_SECONDS:
        inputs["fig7b"] = f"{T}/fig7b_novel_identity.csv"
    return inputs


def experiment_targets():
    targets = [f"{T}/{name}.{ext}" for name in ("table1_hands", "table2_face", "table3_novel_poses",
                                                 "training_cost", "identity_bleed")
               for ext in ("csv", "md", "tex")]
    targets += [f"{T}/orderings.csv", f"{T}/orderings.md"]
    targets += [f"{F}/novel_pose/{s}.png" for s in TRAIN_SUBJECTS]
    targets += [f"{F}/identity_bleed/{s}.png" for s in TRAIN_SUBJECTS]
    if "four_classes" in ABLATION_VARIANTS:
        targets.append(f"{F}/fig3a_classes.png")
    if HAND_ABLATIONS:
        targets.append(f"{F}/fig3b_hands.png")
    if PAIRS:
        targets += [f"{T}/table4_lipsync.{ext}" for ext in ("csv", "md", "tex")]
        targets += [f"{F}/cross_identity/{s}_as_{d}.png" for s, d in PAIRS]
        targets += [f"{F}/animations/{s}_as_{d}.mp4" for s, d in PAIRS]
    if NOVEL_SUBJECTS and NOVEL_SECONDS:
        targets += [f"{T}/fig7b_novel_identity.{ext}" for ext in ("csv", "md", "tex")]
        targets.append(f"{F}/fig7b_novel_identity.png")
    return targets


def tables_dir(wildcards, output):
    """The folder of a table rule's first output (every table lands beside its CSV)."""
    return os.path.dirname(output[0])
