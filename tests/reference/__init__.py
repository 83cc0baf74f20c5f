"""Plain-Python twins of the numba kernels, written the obvious way; tests compare the two."""
