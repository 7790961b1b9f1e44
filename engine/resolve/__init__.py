"""Resolver: each number's capability verdict, from the shared cache or the provider."""
