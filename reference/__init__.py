"""Reference baselines: the course's Keras models re-trained in PyTorch and exported to ONNX.

Only `reference.padding` and `reference.numpy_mlp` import without torch; training and export
(`reference.train`, `reference.nets`, `reference.export`) need the Python 3.11 training venv.
"""

import os as _os

# The machine's 2 cores are shared: busy-waiting OpenMP threads thrash when another process
# holds a core (a CIFAR-10 step went from 0.1 s to 1.5 s). Passive waiting avoids that; it must
# be set before torch is first imported.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
