"""Reference and demonstration data, loaded by `flask seed ...` through each feature's services."""
