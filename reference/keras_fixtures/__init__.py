"""Keras fixtures for the `.keras`/`.h5` converter (grader/keras), made by real Keras.

Run as `python -m reference.keras_fixtures` in the optional fixture environment (`make
keras-fixtures`: keras 3, tf-keras, tensorflow-cpu); the main environment never has TensorFlow or
Keras. Writes tests/grader/keras_fixtures/:
- one small model file per format variant and layer group, saved by Keras itself;
- `expected.npz`: for each gradable fixture `<name>.x` (a fixed input batch) and `<name>.y` (what
  Keras predicts on it); `mnist.test_classes`, the class the MNIST model (mnist_*) predicts for
  each of the 10,000 bundled test images;
- `manifest.json`: for each file, who wrote it (the Keras version) or, for layouts that no
  installable Keras writes any more, which real file h5py rewrote and how; the layers it covers;
  Keras's parameter count; and, for the MNIST model, Keras's accuracy on the bundled test set.

Rewritten by h5py (labelled "rewritten" in the manifest), from files Keras wrote:
- Windows weight paths (`layers\\conv2d/vars/0`): group names as Keras on Windows joined them;
- TF-Keras 2.13/2.14 naming (`_layer_checkpoint_dependencies/<layer>/vars/0`);
- Keras 2.2.4 HDF5: Sequential config without an InputLayer, the input shape in the first
  layer's `batch_input_shape`, weight names `conv2d_1/kernel:0`, as keras 2.2.4's `save_model`
  stored them (keras/engine/saving.py, `save_weights_to_hdf5_group`).
"""
