"""Safety: what tools may touch (the workspace guard) and when they must ask (the policy)."""
