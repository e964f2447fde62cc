"""TalkinNeRF model: pure tensor modules (no file IO). See docs/model.md.

config (ModelConfig) · model (TalkinNeRF, FrameConditioning) · render (render_image) · skeleton (Rodrigues, FK, LBS)
· weights (blend-weight volume) · encoding (PE, Hann window) · fields (MLPs) · composite (volume rendering, hands)
· synthetic (a synthetic SMPL-X skeleton for tests/benchmarks).
"""
