"""The provider's caps as shared budgets: the rate limiter, a process's line for it, retries."""
