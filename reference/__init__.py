"""Reference baselines: the course's Keras models re-trained in PyTorch and exported to ONNX.

Only `reference.padding` and `reference.numpy_mlp` import without torch; training and export
(`reference.train`, `reference.nets`, `reference.export`) need the Python 3.11 training venv.
"""
