"""Held-out evaluation: metrics (metrics.py), face/hand crops (regions.py), rendering test frames
(render_eval.py) and animation under other motions (animate.py)."""
