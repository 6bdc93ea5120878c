"""`traderx rollout`: blue-green and canary delivery of trade-service in prod (issue #14)."""
