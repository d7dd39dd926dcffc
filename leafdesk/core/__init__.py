"""LeafDesk's core: domain model, Leaf client, cache, settings, secrets and services, with no Qt."""
