"""Layers written the way CS231n learners write them (``out, cache = forward(...)``,
``backward(dout, cache)``), by us, each with the bug learners plant most often as an option."""

import numpy as np


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, _b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = np.sum(dout, axis=0)
    return dx, dw, db


def affine_backward_db_mean(dout, cache):  # the bug: mean instead of sum over the batch
    dx, dw, _ = affine_backward(dout, cache)
    return dx, dw, np.mean(dout, axis=0)


def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (x, xhat, gamma, var, eps)


def batchnorm_backward(dout, cache):
    x, xhat, gamma, var, eps = cache
    n = x.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    inv = 1.0 / np.sqrt(var + eps)
    dx = inv / n * (n * dxhat - dxhat.sum(axis=0) - xhat * np.sum(dxhat * xhat, axis=0))
    return dx, dgamma, dbeta


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, _c, h, wd = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = 1 + (h + 2 * pad - hh) // stride, 1 + (wd + 2 * pad - ww) // stride
    out = np.zeros((n, f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride : i * stride + hh, j * stride : j * stride + ww]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def _conv_backward(dout, cache, stride_in_backward):
    x, w, _b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    step = stride if stride_in_backward else 1  # the bug: the stride forgotten in backward
    _, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * step, i * step + hh), slice(j * step, j * step + ww)
            patch = xp[:, :, rows, cols]
            dw += np.tensordot(dout[:, :, i, j], patch, axes=([0], [0]))
            dxp[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
    return dxp[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]], dw, db


def conv_backward_naive(dout, cache):
    return _conv_backward(dout, cache, True)


def conv_backward_stride_bug(dout, cache):
    return _conv_backward(dout, cache, False)


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, w = x.shape
    ho, wo = 1 + (h - ph) // s, 1 + (w - pw) // s
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * s : i * s + ph, j * s : j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def _max_pool_backward(dout, cache, accumulate):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * s : i * s + ph, j * s : j * s + pw]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            part = mask * dout[:, :, i, j][:, :, None, None]
            if accumulate:
                dx[:, :, i * s : i * s + ph, j * s : j * s + pw] += part
            else:  # the bug: = for +=, wrong only where windows overlap
                dx[:, :, i * s : i * s + ph, j * s : j * s + pw] = part
    return (dx,)


def max_pool_backward_naive(dout, cache):
    return _max_pool_backward(dout, cache, True)


def max_pool_backward_assign(dout, cache):
    return _max_pool_backward(dout, cache, False)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    h = prev_h.shape[1]
    i, f, o, g = (
        _sigmoid(a[:, :h]),
        _sigmoid(a[:, h : 2 * h]),
        _sigmoid(a[:, 2 * h : 3 * h]),
        np.tanh(a[:, 3 * h :]),
    )
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Accumulates into dnext_c (``dnext_c += …``), as many learners write it: still right."""
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    t = np.tanh(next_c)
    dnext_c += dnext_h * o * (1 - t**2)
    do = dnext_h * t
    df, di, dg = dnext_c * prev_c, dnext_c * g, dnext_c * i
    dprev_c = dnext_c * f
    da = np.hstack([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)])
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def word_embedding_forward(x, W):
    return W[x], (x, W)


def word_embedding_backward(dout, cache):
    x, W = cache
    dW = np.zeros_like(W)
    np.add.at(dW, x, dout)
    return dW
