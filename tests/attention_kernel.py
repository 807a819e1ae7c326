"""A hand-written attention ``autograd.Function`` (forward and backward written out, as a kernel
author writes them), computing in its inputs' dtype with float32 accumulation where a fused
kernel would, and the bugs such kernels ship with, as options."""

import math

import torch


class Attention(torch.autograd.Function):
    """softmax(q kᵀ · scale [+ causal mask]) v over (batch, heads, seq, dim) tensors."""

    @staticmethod
    def forward(ctx, q, k, v, causal=False, bug=None):
        d = q.shape[-1]
        scale = 1.0 / math.sqrt(d)
        s = (q.float() @ k.float().transpose(-1, -2)) * scale
        if causal:
            n, m = s.shape[-2:]
            s = s.masked_fill(torch.ones(n, m, dtype=torch.bool).triu(1), float("-inf"))
        p = torch.softmax(s, dim=-1)
        out = (p @ v.float()).to(q.dtype)
        ctx.save_for_backward(q, k, v, p)
        ctx.scale, ctx.bug = scale, bug
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, p = ctx.saved_tensors
        scale, bug = ctx.scale, ctx.bug
        do = dout.float()
        dv = p.transpose(-1, -2) @ do
        dp = do @ v.float().transpose(-1, -2)
        ds = p * (dp - (dp * p).sum(-1, keepdim=True))
        dq = (ds @ k.float()) * scale
        dk = (ds.transpose(-1, -2) @ q.float()) * scale
        if bug == "scale in one head":  # the 1/√d forgotten in head 3's dq
            dq[:, 3] /= scale
        elif bug == "dv term dropped in one head":  # one row of p left out of head 1's dv
            dv[:, 1] -= p[:, 1, :1].transpose(-1, -2) @ do[:, 1, :1]
        elif bug == "sign in one block":
            dk[:, 2] = -dk[:, 2]
        elif bug == "1 % in one head":  # a small error: what a loose tolerance lets through
            dq[:, 0] *= 1.01
        elif bug == "5 % in one head":
            dq[:, 0] *= 1.05
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None, None


def attention(bug=None, causal=False):
    return lambda q, k, v: Attention.apply(q, k, v, causal, bug)


def reference(causal=False):
    return lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(
        q, k, v, is_causal=causal
    )
