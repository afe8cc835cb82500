"""Field hubs: the central side (credentials, batches) and the hub's link to it."""
