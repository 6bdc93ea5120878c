"""`serve --kubeconfig`: the supervisor of ConfigHub's official bridge worker processes."""
