"""The Flask webhook service, its store, queue and worker."""
