"""Talking to Redis: the connection, every key, the Lua scripts and how they are sent."""
