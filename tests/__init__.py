"""koodispatch's test suite; one folder per engine package (see README)."""
