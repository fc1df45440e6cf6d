"""Shared support for the tests and the benchmarks (never imported by the site, the worker or the
engine). One module per concern:

- `onnx_build`: small ONNX graphs in any layout and output form (`linear_model`, `make_model`).
- `mnist`: the bundled MNIST data and real softmax-regression models fitted on it.
- `hostile`: models built to hurt the grader (memory bombs, endless loops, external data).
- `hostile_npz`: NumPy-network uploads built to hurt their parser (zip bomb, huge specs).
- `reference_models`: the reference baselines, or their architectures with random weights.
- `frames`: recording the grader's frames to its sandbox children.
- `chatty_child`: a sandbox child that writes a progress report and its reply in one write.
- `procs`, `stack`: a private Podium (database, broker, web, workers) on spare ports.
- `reliability`: what the reliability tests do to such a stack.
- `netns`: another host for fault tests (a network namespace with its own address).
- `web`: in-process Django helpers (uploads, waiting on real grading).
- `browser`: the browser tests' fixtures (Playwright + Debian chromium), screenshots, overflow.
- `lti_platform`, `lti_platform_server`: a simulated LTI 1.3 platform (LMS) on loopback: keys,
  JWKS, token, NRPS, AGS, and the pages a browser goes through.
"""
