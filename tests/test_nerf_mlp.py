"""The MLP folds per-frame conditions into biases: same outputs and gradients as concatenating them per sample."""

import pytest
import torch

from talkinnerf.nerf.mlp import MLP, set_folding


@pytest.mark.parametrize("depth,skip,layer_cond_dim,n_const", [(8, 4, 5, 7), (4, 2, 0, 3), (3, None, 4, 0),
                                                               (1, None, 0, 2)])
def test_folded_conditions_equal_concatenation_with_gradients(depth, skip, layer_cond_dim, n_const):
    torch.manual_seed(0)
    mlp = MLP(9 + n_const, 4, depth, 16, skip, layer_cond_dim=layer_cond_dim).double()
    x = torch.randn(50, 9, dtype=torch.float64)
    const = torch.randn(n_const, dtype=torch.float64, requires_grad=True) if n_const else None
    lc = torch.randn(layer_cond_dim, dtype=torch.float64, requires_grad=True) if layer_cond_dim else None
    set_folding(mlp, False)
    ref = mlp(x, const, lc)
    set_folding(mlp, True)
    out = mlp(x, const, lc)
    assert out.shape == (50, 4)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    leaves = list(mlp.parameters()) + [v for v in (const, lc) if v is not None]
    g_ref = torch.autograd.grad((ref ** 2).sum(), leaves)
    g_out = torch.autograd.grad((out ** 2).sum(), leaves)
    for a, b in zip(g_out, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_concatenating_form_is_nerfs_layout():
    """Layer 0 sees [x, const]; a later layer [h, layer_cond], plus [x, const] again at the skip."""
    torch.manual_seed(1)
    mlp = MLP(5, 2, 2, 8, skip=1, layer_cond_dim=3)
    set_folding(mlp, False)
    x, const, lc = torch.randn(7, 3), torch.randn(2), torch.randn(3)
    x_full = torch.cat([x, const.expand(7, 2)], dim=1)
    h0 = torch.relu(mlp.layers[0](x_full))
    h1 = torch.relu(mlp.layers[1](torch.cat([h0, lc.expand(7, 3), x_full], dim=1)))
    torch.testing.assert_close(mlp(x, const, lc), mlp.head(h1))
    set_folding(mlp, True)
    torch.testing.assert_close(mlp(x, const, lc), mlp.head(h1))


def test_wrong_input_sizes_are_refused():
    mlp = MLP(12, 3, 4, 8, 2, layer_cond_dim=2)
    with pytest.raises(ValueError, match="expected 12"):
        mlp(torch.randn(5, 9), torch.randn(2), torch.randn(2))
    with pytest.raises(ValueError, match="layer condition of 2"):
        mlp(torch.randn(5, 9), torch.randn(3))
