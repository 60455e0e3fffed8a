"""The scan pipeline: plan what changed, process files in workers, commit to the catalog."""
