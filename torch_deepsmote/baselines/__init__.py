"""The reference methods of the paper's comparison, each a `fit_resample` estimator on image
tensors: AMDO, MC-CCR, MC-RBO, BAGAN and GAMO (behind the `demo` extra where they need it)."""
