"""One widget per wizard step."""
