"""A plain eager forward pass of an `Asteris` network, the benchmark's baseline.

It uses the network's own weights but none of its speed-ups: standard memory
layout, ``F.pad`` replicate padding, the variance-based norm on token-major
matrices, unaligned feed-forward widths and channel attention on
``(B, heads, c, N)`` matrices, written as directly as the method description
reads. Its output equals the fast network's to float32 round-off, which the
benchmark checks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _norm(norm, x):
    """Layer norm of each token's channels, on the (B, tokens, C) matrix the method describes."""
    b, c, d, h, w = x.shape
    tokens = x.flatten(2).transpose(1, 2)
    var = tokens.var(dim=-1, keepdim=True, unbiased=False)
    out = tokens / torch.sqrt(var + 1e-5) * norm.body.weight
    return out.transpose(1, 2).reshape(b, c, d, h, w)


def _dw(conv, x, replicate: bool):
    if replicate:
        return F.conv3d(F.pad(x, (1,) * 6, mode="replicate"), conv.weight, groups=conv.groups)
    return F.conv3d(x, conv.weight, padding=1, groups=conv.groups)


def _attention(attn, x):
    b, c, d, h, w = x.shape
    if d > 1:
        qkv = _dw(attn.qkv_dwconv, F.conv3d(x, attn.qkv.weight), True)
        project = attn.project_out.weight
    else:
        qkv = _dw(attn.qkv_dwconv2, F.conv3d(x, attn.qkv2.weight), False)
        project = attn.project_out2.weight
    q, k, v = (t.reshape(b, attn.heads, c // attn.heads, d * h * w) for t in qkv.chunk(3, dim=1))
    q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    a = torch.softmax(q @ k.transpose(-2, -1) * attn.temperature, dim=-1)
    return F.conv3d((a @ v).reshape(b, c, d, h, w), project)


def _ffn(ffn, x):
    h = _dw(ffn.dwconv, F.conv3d(x, ffn.project_in.weight), True)
    x1, x2 = h.chunk(2, dim=1)
    return F.conv3d(F.gelu(x1) * x2, ffn.project_out.weight)


def _stage(stage, x):
    for block in stage:
        x = x + _attention(block.attn, _norm(block.norm1, x))
        x = x + _ffn(block.ffn, _norm(block.norm2, x))
    return x


def _down(module, x):
    x = F.conv3d(x, module.body[0].weight, padding=1)
    b, c, d, h, w = x.shape
    x = x.view(b, c, d // 2, 2, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 7, 2, 4, 6)
    return x.reshape(b, 8 * c, d // 2, h // 2, w // 2)


def _up(module, x):
    x = F.conv3d(x, module.body[0].weight, padding=1)
    b, c, d, h, w = x.shape
    x = x.view(b, c // 8, 2, 2, 2, d, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4)
    return x.reshape(b, c // 8, 2 * d, 2 * h, 2 * w)


def eager_forward(net, x: torch.Tensor) -> torch.Tensor:
    """The network's output computed the plain way (8-frame or 4-frame)."""
    e1 = _stage(net.encoder_level1, F.conv3d(x, net.patch_embed.proj.weight, padding=1))
    e2 = _stage(net.encoder_level2, _down(net.down1_2, e1))
    if net.config.frames == 8:
        e3 = _stage(net.encoder_level3, _down(net.down2_3, e2))
        lat = _stage(net.latent, _down(net.down3_4, e3))
        up = torch.cat([_up(net.up4_3, lat), e3], 1)
        d3 = _stage(net.decoder_level3, F.conv3d(up, net.reduce_chan_level3.weight))
    else:
        d3 = _stage(net.latent, _down(net.down2_3, e2))
    up = torch.cat([_up(net.up3_2, d3), e2], 1)
    d2 = _stage(net.decoder_level2, F.conv3d(up, net.reduce_chan_level2.weight))
    d1 = _stage(net.decoder_level1, torch.cat([_up(net.up2_1, d2), e1], 1))
    return net.output(_stage(net.refinement, d1)) + x
