"""The command line of training (``train_codec.py`` / ``telucodec train``): its flags, and the
config they make (preset or resumed config <- ``--config`` file <- flags). Torch-free, so that
``--help`` and a bad flag answer without importing torch."""
from __future__ import annotations

import argparse
import logging
import warnings
from dataclasses import replace
from pathlib import Path

from .config import PRESETS, ModelConfig, TrainConfig, allowed_values, load_config_file, merge, preset
from .errors import TeluCodecError

log = logging.getLogger("telucodec")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The design notes' flags plus what users of EnCodec / DAC training expect."""
    a = parser.add_argument
    a("--data_dir", required=True, type=Path, help="folder tree of speech files (any format, rate, channels)")
    a("--checkpoint_dir", required=True, type=Path, help="checkpoints go to CHECKPOINT_DIR/EXPERIMENT_NAME/")
    a("--experiment_name", default="telucodec")
    a("--batch_size", type=int, help="segments per micro-batch (per process under torchrun)")
    a("--grad_accum_steps", type=int,
      help="micro-batches per optimiser step: the step sees batch_size x processes x this segments")
    a("--num_epochs", type=int)
    a("--learning_rate", type=float)
    a("--preset", choices=sorted(PRESETS),
      help="model preset (default: the preset named seed, the design notes' codec; or the resumed run's)")
    a("--config", type=Path, help="JSON/YAML file with (part of) the config tree; flags override it "
                                  "(when resuming it applies on top of the checkpoint's config, model excepted)")
    a("--init_from", metavar="default|realtime|PATH",
      help="start from trained weights: a shipped model (default, realtime), a .safetensors, a .pt checkpoint "
           "or a training folder; the model config comes from them (--config may not change its shape)")
    a("--finetune", choices=["decoder", "full"],
      help="with --init_from: train the decoder alone (default: codes, entropy tables and files stay "
           "valid) or the whole model (its entropy tables are refitted on --data_dir at the end)")
    a("--val_dir", type=Path, help="validation folder (default: a deterministic split of DATA_DIR by file: "
                                   "5%%, or 20%% when fine-tuning from --init_from)")
    a("--device", default="auto", choices=["auto", "cpu", "cuda"])
    a("--num_workers", type=int)
    a("--segment_seconds", type=float)
    a("--seed", type=int, help="random seed of weights and data order (unrelated to --preset seed)")
    a("--log_every", type=int)
    a("--save_every", type=int, help="steps between checkpoints (also saved every epoch)")
    a("--max_steps", type=int, help="stop at this global step (0 = run all epochs)")
    a("--precision", choices=allowed_values(TrainConfig, "precision"))
    a("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    a("--adversarial_start_step", type=int,
      help="global step at which the STFT discriminator and its losses switch on (-1 = never, the default)")
    a("--keep_best", choices=["true", "false"],
      help="also write best.pt, the lowest validation log-mel so far (default true; false saves its disk: "
           "each checkpoint holds the optimiser state, ~113 MB for the seed preset)")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", dest="resume", action="store_true", default=True,
                        help="continue from CHECKPOINT_DIR/EXPERIMENT_NAME/last.pt if present (default)")
    resume.add_argument("--no_resume", dest="resume", action="store_false",
                        help="start fresh; refuses to run where a checkpoint already exists")


def _merged(config: TrainConfig, overrides: dict, source: Path) -> TrainConfig:
    """``merge``, with a bad value reported as coming from the file ``source``."""
    try:
        return merge(config, overrides)
    except TeluCodecError as exc:
        raise TeluCodecError(f"{source}: {exc}") from None


def flag_overrides(args: argparse.Namespace) -> dict:
    """The config tree's values given as command-line flags."""
    flags = {
        "batch_size": args.batch_size, "grad_accum_steps": args.grad_accum_steps, "num_epochs": args.num_epochs,
        "num_workers": args.num_workers, "seed": args.seed, "log_every": args.log_every, "save_every": args.save_every,
        "max_steps": args.max_steps, "precision": args.precision,
    }
    overrides: dict = {k: v for k, v in flags.items() if v is not None}
    if args.learning_rate is not None:
        overrides["optim"] = {"learning_rate": args.learning_rate}
    if args.segment_seconds is not None:
        overrides["data"] = {"segment_seconds": args.segment_seconds}
    if args.keep_best is not None:
        overrides["keep_best"] = args.keep_best == "true"
    if args.adversarial_start_step is not None:
        overrides["adversarial"] = {"start_step": args.adversarial_start_step}
    if args.finetune is not None:
        if not args.init_from:
            raise TeluCodecError("--finetune needs --init_from (the weights to fine-tune)")
        overrides["trainable"] = {"decoder": "decoder", "full": "all"}[args.finetune]
    return overrides


def _weights_shape(config: TrainConfig) -> ModelConfig:
    """The model config less quantizer dropout: dropout only decides how many stages each training
    example uses, so a fine-tuning stage may change it (e.g. to train low rates more often)."""
    quantizer = replace(config.model.quantizer, dropout_prob=0.0)
    return replace(config.model, quantizer=quantizer)


# A run started from trained weights (--init_from) starts from these settings, then --config, then
# flags: the losses of the shipped models' last stages, a learning rate and held-out share for minutes
# of audio, the decoder alone, and early stopping on the held-out log-mel (docs/EXPERIMENTS.md, E17).
FINETUNE_DEFAULTS: dict = {
    "loss": {"l1_weight": 0.0, "mse_weight": 0.0, "stft_weight": 0.0, "mel_weight": 1.0, "complex_weight": 1.0,
             "magnitude_weight": 1.0},
    "optim": {"learning_rate": 1e-4, "warmup_steps": 50},
    "data": {"val_fraction": 0.2, "max_val_files": 16, "perceptual_val_files": 8},
    "model": {"quantizer": {"dropout_prob": 1.0}},
    "trainable": "decoder", "num_epochs": 40, "early_stop_patience": 3, "save_every": 50,
}


def _initial_model(args: argparse.Namespace) -> ModelConfig:
    """The model config a new run starts from: the --init_from weights' (no --preset with it), or the preset."""
    if not args.init_from:
        return preset(args.preset or "seed")
    if args.preset:
        raise TeluCodecError("--init_from takes the model from the weights: drop --preset")
    from .warm_start import model_config

    return model_config(args.init_from)


RUN_LENGTH = ("num_epochs", "max_steps")   # the command's to set, resumed or not


def config_from_args(args: argparse.Namespace, resumed: dict | None, checkpoint: Path | None = None) -> TrainConfig:
    """Preset (or the ``resumed`` run's config, read from ``checkpoint``) <- --config file <- flags.
    Every step validates; a bad value is a TeluCodecError naming the file it came from.

    The run length (``RUN_LENGTH``) is never taken from a resumed checkpoint: it is what the
    command (its --config file and flags) says, defaults included, as for a new run; so the same
    command resumes to the same end, and dropping --max_steps means no step limit."""
    if resumed is not None:
        try:
            config = TrainConfig.from_dict(resumed)
        except TeluCodecError as exc:
            raise TeluCodecError(f"{checkpoint}: {exc}") from None
        config = replace(config, **{name: getattr(TrainConfig(), name) for name in RUN_LENGTH})
        if args.preset:
            log.warning("resuming: the config comes from the checkpoint, so --preset is ignored; "
                        "--config and the other flags still apply")
        if args.config:     # e.g. a fine-tuning stage: new loss weights, a discriminator, a schedule
            changed = _merged(config, load_config_file(args.config), args.config)
            if _weights_shape(changed) != _weights_shape(config):
                raise TeluCodecError(f"{args.config}: a resumed run's model cannot change, except "
                                     "model.quantizer.dropout_prob (start a new --experiment_name "
                                     "to train another model)")
            config = changed
    else:
        config = TrainConfig(model=_initial_model(args), init_from=args.init_from or "")
        if args.init_from:
            config = merge(config, FINETUNE_DEFAULTS)
        if args.config:
            config = _merged(config, load_config_file(args.config), args.config)
    config = merge(config, flag_overrides(args))
    if config.optim.learning_rate < 5e-5:
        warnings.warn(f"learning rate {config.optim.learning_rate:g} is very low for this kind of model; "
                      "the usual range is 1e-4 to 3e-4", stacklevel=2)
    return config


def check_paths(args: argparse.Namespace) -> None:
    """The folders and files the flags name, checked before torch is imported: --data_dir and
    --val_dir must be folders, --config a readable config file, --init_from a model, and the run's
    folder must accept files. Raises TeluCodecError (OutputError for the run's folder)."""
    from .fileio import check_output_folder
    from .modelfile import model_file

    for folder in (args.data_dir, args.val_dir):
        if folder is not None and not folder.is_dir():
            raise TeluCodecError(f"{folder}: no such folder")
    if args.config is not None:
        load_config_file(args.config)
    if args.init_from:
        try:
            model_file(args.init_from)
        except TeluCodecError as exc:
            raise TeluCodecError(f"--init_from: {exc}") from None
    check_output_folder(args.checkpoint_dir / args.experiment_name)
    _check_new_run_folder(args.checkpoint_dir / args.experiment_name)


# what a run writes into its folder besides last.pt (config.json is checked by its content)
RUN_OUTPUTS = ("best.pt", "metrics.jsonl", "model.safetensors", "report.md", "report.json", "report.png")


def _check_new_run_folder(run_dir: Path) -> None:
    """A new run (no last.pt to resume) refuses a folder holding files it would overwrite: files it
    writes only once a checkpoint exists, or a config.json that is not a run's."""
    if (run_dir / "last.pt").exists() or not run_dir.is_dir():
        return
    clash = [name for name in RUN_OUTPUTS if (run_dir / name).exists()]
    config = run_dir / "config.json"
    if config.is_file() and not _is_run_config(config):
        clash.append(config.name)
    if clash:
        raise TeluCodecError(f"{run_dir}: holds {', '.join(clash)}, which a new run would overwrite; "
                             "choose another --experiment_name or move them")


def _is_run_config(path: Path) -> bool:
    """Whether ``path`` is the config.json a run writes (a JSON config tree)."""
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"model", "loss", "optim"} <= data.keys()
