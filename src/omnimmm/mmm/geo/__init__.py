"""The geo (region) hierarchical MMM: one model over many regions (issue 19)."""
