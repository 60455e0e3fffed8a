"""Export: write what the catalog knows to files other tools read."""
