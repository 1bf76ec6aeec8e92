"""One module per CLI verb; see `tokensmith.cli`."""
