"""The Kubernetes bridge worker: the protocol client, the executor, the in-server supervisor."""
