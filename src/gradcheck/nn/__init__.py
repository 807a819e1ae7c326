"""A general NumPy network (any depth, sigmoid/tanh/relu, sigmoid or softmax output) and its data.

>>> from gradcheck import nn
>>> net = nn.Network((64, 25, 10), lambda_=1.0)
>>> net.n_params
1885
"""

from .data import load_digits, train_test_split
from .network import ACTIVATIONS, OUTPUTS, FitResult, Network

__all__ = ["ACTIVATIONS", "OUTPUTS", "FitResult", "Network", "load_digits", "train_test_split"]
