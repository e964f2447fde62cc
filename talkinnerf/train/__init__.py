"""Training: rays (rays.py), patch sampling schedule (sampling.py), data (data.py), losses (losses.py),
checkpoints (checkpoint.py), the loop (trainer.py) and novel-identity fine-tuning (finetune.py)."""
